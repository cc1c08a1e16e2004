"""Fitted models stored inside the workspace folder, each with a card.

``pulse train`` fits models on a workspace's own data; this module is where
they go and how they come back:

    <workspace>/models/<name>.joblib   the fitted object (scikit-learn, implicit, ...)
    <workspace>/models/<name>.json     its card: version, trained_at, n_train, metrics, data

    >>> save_artifact(ws_path, "sentiment", clf, n_train=18000, metrics={"macro_f1": 0.71})  # doctest: +SKIP
    >>> clf, card = load_artifact(ws_path, "sentiment")                                       # doctest: +SKIP
    >>> card["metrics"]["macro_f1"]                                                           # doctest: +SKIP
    0.71

What it leaves out: model registries, remote storage. A workspace is a folder;
copy it and the models come along.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from pulse.errors import UserError

__all__ = [
    "save_artifact",
    "load_artifact",
    "list_artifacts",
    "stable_split",
    "ArtifactMissing",
    "ARTIFACT_VERSION",
    "mark_stale",
]

#: Bumped when a stored model's format changes; older files are refused with a clear message.
ARTIFACT_VERSION = 1


class ArtifactMissing(UserError, LookupError):
    """No trained model of that name in the workspace: run ``pulse train``."""


def _dir(ws_path: Path) -> Path:
    return Path(ws_path) / "models"


def save_artifact(ws_path: Path, name: str, obj: Any, n_train: int, metrics: dict, **card: Any) -> dict:
    """Write ``obj`` and its card atomically (temp file + rename); return the card."""
    import joblib

    d = _dir(ws_path)
    d.mkdir(parents=True, exist_ok=True)
    meta = {
        "name": name,
        "version": ARTIFACT_VERSION,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "n_train": int(n_train),
        "metrics": metrics,
        **card,
    }
    tmp = d / f".{name}.joblib.tmp"
    joblib.dump(obj, tmp)
    os.replace(tmp, d / f"{name}.joblib")
    (d / f"{name}.json").write_text(json.dumps(meta, indent=2, default=str))
    return meta


def load_artifact(ws_path: Path, name: str) -> tuple[Any, dict]:
    import joblib

    d = _dir(ws_path)
    f, c = d / f"{name}.joblib", d / f"{name}.json"
    if not f.is_file() or not c.is_file():
        raise ArtifactMissing(f"no trained {name} model in {ws_path}: run `pulse train`")
    card = json.loads(c.read_text())
    if card.get("version") != ARTIFACT_VERSION:
        raise ArtifactMissing(
            f"the {name} model in {ws_path} has format {card.get('version')}, "
            f"this Pulse reads {ARTIFACT_VERSION}: run `pulse train` again"
        )
    return joblib.load(f), card


def list_artifacts(ws_path: Path) -> list[dict]:
    """The cards of every stored model, by name."""
    d = _dir(ws_path)
    return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []


def mark_stale(ws_path: Path, reason: str) -> list[str]:
    """Note on every stored model's card that its training data changed (``stale``); return their names.
    The next ``pulse train`` writes fresh cards without it."""
    d = _dir(ws_path)
    names = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        card = json.loads(p.read_text())
        card["stale"] = reason
        tmp = p.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(card, indent=2, default=str))
        os.replace(tmp, p)
        names.append(card.get("name", p.stem))
    return names


def stable_split(key: str, train: float = 0.8, dev: float = 0.1) -> str:
    """'train', 'dev' or 'test' for a row id, the same on every run and machine.

    >>> stable_split("wcr-17"), stable_split("wcr-17")
    ('train', 'train')
    """
    u = int(hashlib.md5(str(key).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if u < train else "dev" if u < train + dev else "test"
