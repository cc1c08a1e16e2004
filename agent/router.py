"""A semantic router: which tool a request most resembles, from the tools' own examples.

Each tool declares a few example requests (``Tool.examples``). They are
embedded once with the workspace's embedder; a request's score for a tool is
its best cosine similarity to that tool's examples. When one tool clearly
wins, the agent narrows the generator's JSON schema to that tool; when no
tool comes close (small talk, out-of-scope requests), it answers without a
tool and without a routing call; otherwise the generator chooses among all.
The thresholds were set on the dev questions only.

    >>> r = SemanticRouter(REGISTRY, embedder)                 # doctest: +SKIP
    >>> r.scores("how many orders did customer 3 place?")[0]   # doctest: +SKIP
    ('shop_lookup', 0.83)

What it leaves out: learning from feedback; the examples are the tools' own,
never the eval questions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SemanticRouter"]


class SemanticRouter:
    def __init__(self, tools: dict, embedder, min_score: float = 0.55, min_margin: float = 0.08, none_below: float = 0.3):
        self.embedder = embedder
        self.min_score = min_score
        self.min_margin = min_margin
        self.none_below = none_below
        self.names: list[str] = []
        texts: list[str] = []
        for name, t in tools.items():
            for ex in t.examples:
                self.names.append(name)
                texts.append(ex)
        self.vectors = embedder.encode(texts) if texts else np.zeros((0, embedder.dim), np.float32)

    def scores(self, text: str) -> list[tuple[str, float]]:
        """(tool, best similarity) for every tool, best first."""
        if not len(self.vectors):
            return []
        sims = self.vectors @ self.embedder.encode([text])[0]
        best: dict[str, float] = {}
        for name, s in zip(self.names, sims):
            best[name] = max(best.get(name, -1.0), float(s))
        return sorted(best.items(), key=lambda kv: -kv[1])

    def confident(self, text: str) -> str | None:
        """The tool that clearly wins, ``"none"`` when no tool comes close, or None (undecided)."""
        s = self.scores(text)
        if not s:
            return None
        top = s[0]
        if top[1] < self.none_below:
            return "none"
        runner = s[1][1] if len(s) > 1 else -1.0
        if top[1] >= self.min_score and top[1] - runner >= self.min_margin:
            return top[0]
        return None
