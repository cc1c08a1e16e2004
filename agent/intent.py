"""The intent model: which tool a message asks for (or none), in milliseconds, with a calibrated confidence.

A multinomial logistic regression over the MiniLM vector of the message (the
int8 question embedder the agent already holds), trained on example requests
kept as data: ``agent/intents/<persona>.yaml`` (one key per tool, plus
``none``), the tools' own ``examples``, and real human small talk drawn from
the ``chitchat-dataset`` package (``agent/intents/smalltalk.jsonl``, MIT, drawn by
``evals/chitchat_cases.py`` from conversations the eval suite did not use) as more ``none``.
Chinese examples sit beside them (``<persona>.zh.yaml``); every text is glossed
(``agent/lang.py``) before it is embedded, at fit and at prediction. Every example sits in train, dev or test by a hash of its text,
so no phrasing is in two splits. The model is fitted on train; the confidence
bar (``threshold``) is chosen on dev; test is only reported.

    >>> m = IntentModel.fit(REGISTRY, embedder, persona="analyst")     # doctest: +SKIP
    >>> m.predict("how many orders did customer 3 place?")            # doctest: +SKIP
    Intent(name='shop_lookup', p=0.93, runner_up='sql_query', confident=True)

A fitted model is cached under ``cache_dir`` keyed by a hash of its data, so an
agent starts in milliseconds after the first time (a few seconds of embedding).
What it leaves out: the arguments (``agent/slots.py``), follow-ups
(``agent/understand.py``), and learning from feedback.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .lang import gloss

__all__ = ["Intent", "IntentModel", "load_examples", "split_of"]

NONE = "none"


@dataclass(frozen=True)
class Intent:
    name: str  # a tool name or "none"
    p: float  # calibrated probability of ``name``
    runner_up: str | None
    confident: bool  # p cleared the bar chosen on dev


def split_of(text: str) -> str:
    """train (70%), dev (15%) or test (15%), by a stable hash of the normalised text."""
    h = int(hashlib.sha1(_norm(text).encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 70 else "dev" if h < 85 else "test"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _read_data(name: str) -> str:
    return resources.files("agent").joinpath("intents", name).read_text()


def load_examples(tools: Mapping, persona: str) -> list[tuple[str, str]]:
    """(text, intent) pairs for the tools given: the persona's data file, the tools' own examples, small talk."""
    import yaml

    pairs: list[tuple[str, str]] = []
    for name in (f"{persona}.yaml", f"{persona}.zh.yaml"):
        if not resources.files("agent").joinpath("intents", name).is_file():
            continue
        for intent, texts in (yaml.safe_load(_read_data(name)) or {}).items():
            if intent == NONE or intent in tools:
                pairs += [(t, intent) for t in texts]
    for name, t in tools.items():
        pairs += [(ex, name) for ex in t.examples]
    for line in _read_data("smalltalk.jsonl").splitlines():
        if line.strip():
            pairs.append((json.loads(line)["text"], NONE))
    seen, out = set(), []
    for text, intent in pairs:
        if _norm(text) not in seen:
            seen.add(_norm(text))
            out.append((text, intent))
    return out


class IntentModel:
    def __init__(self, clf, labels: list[str], embedder, threshold: float, report: dict):
        self.clf = clf
        self.labels = labels
        self.embedder = embedder
        self.threshold = threshold
        self.report = report  # accuracy on dev and test, sizes, the threshold

    @classmethod
    def fit(cls, tools: Mapping, embedder, persona: str = "analyst", cache_dir: Path | None = None) -> "IntentModel":
        """Fit on the train split, choose the confidence bar on dev, report test; cached by data hash."""
        pairs = load_examples(tools, persona)
        key = hashlib.sha1(
            json.dumps([pairs, type(embedder).__name__, getattr(embedder, "name", "")], default=str).encode()
        ).hexdigest()[:16]
        path = cache_dir / f"intent-{persona}-{key}.pkl" if cache_dir else None
        if path and path.is_file():
            try:
                clf, labels, threshold, report = pickle.loads(path.read_bytes())
                return cls(clf, labels, embedder, threshold, report)
            except Exception:  # noqa: BLE001 - a stale or torn cache file is refitted
                pass
        from sklearn.linear_model import LogisticRegression

        texts = [t for t, _ in pairs]
        vecs = np.asarray(embedder.encode([gloss(t) for t in texts]), np.float32)
        y = np.array([i for _, i in pairs])
        split = np.array([split_of(t) for t in texts])
        tr = split == "train"
        clf = LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced")
        clf.fit(vecs[tr], y[tr])
        labels = [str(c) for c in clf.classes_]
        threshold, report = cls._calibrate(clf, vecs, y, split)
        report["sizes"] = {s: int((split == s).sum()) for s in ("train", "dev", "test")}
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps((clf, labels, threshold, report)))
            tmp.replace(path)
        return cls(clf, labels, embedder, threshold, report)

    @staticmethod
    def _calibrate(clf, vecs, y, split) -> tuple[float, dict]:
        """The lowest bar at which dev answers it lets through are >= 97% right; accuracy on dev and test."""
        report: dict = {}
        for s in ("dev", "test"):
            m = split == s
            report[f"{s}_accuracy"] = float((clf.predict(vecs[m]) == y[m]).mean()) if m.any() else None
        dev = split == "dev"
        probs = clf.predict_proba(vecs[dev])
        pred, p = clf.classes_[probs.argmax(1)], probs.max(1)
        threshold = 0.9
        for t in np.arange(0.3, 0.91, 0.02):
            kept = p >= t
            if kept.sum() and (pred[kept] == y[dev][kept]).mean() >= 0.97:
                threshold = float(round(t, 2))
                break
        report["threshold"] = threshold
        test = split == "test"
        tp = clf.predict_proba(vecs[test])
        kept = tp.max(1) >= threshold
        report["test_confident_share"] = float(kept.mean()) if test.any() else None
        report["test_confident_accuracy"] = (
            float((clf.classes_[tp.argmax(1)][kept] == y[test][kept]).mean()) if kept.any() else None
        )
        return threshold, report

    def probs(self, text: str) -> dict[str, float]:
        v = np.asarray(self.embedder.encode([gloss(text)]), np.float32)
        return dict(zip(self.labels, map(float, self.clf.predict_proba(v)[0])))  # labels: plain str, never numpy's

    def predict(self, text: str) -> tuple[Intent, dict[str, float]]:
        probs = self.probs(text)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        name, p = ranked[0]
        return Intent(name, p, ranked[1][0] if len(ranked) > 1 else None, p >= self.threshold), probs

    def accuracy(self, pairs: list[tuple[str, str]]) -> float:
        vecs = np.asarray(self.embedder.encode([gloss(t) for t, _ in pairs]), np.float32)
        return float((self.clf.predict(vecs) == np.array([i for _, i in pairs])).mean())


def main(argv: list[str]) -> int:
    """``python -m agent.intent report``: the fitted models' dev/test accuracy with the configured query embedder.
    (The small talk is drawn by ``python -m evals.chitchat_cases --smalltalk``, beside the eval cases it avoids.)"""
    from pulse.config import load_settings
    from retrieval import Embedder
    from tools import REGISTRY, SUPPORT_TOOLS

    s = load_settings()
    emb = Embedder.load(s.query_embedder, threads=s.threads)
    for persona, tools in (("analyst", REGISTRY), ("support", SUPPORT_TOOLS)):
        m = IntentModel.fit(tools, emb, persona)
        print(persona, json.dumps(m.report))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
