"""Answers written by code from a tool's structured result: grounded by construction, streamed at once.

Counts, sums, rankings, look-ups, forecasts, recommendations, profiles, alerts
and sentiment scores are facts a tool computed; :func:`compose` turns them into
the answer without the generator. Tools whose answer needs text synthesised
from documents (search, review analysis, topics, reply drafts, policies) return
None here: the generator writes those, from :func:`compact_evidence` (the
matching sentences, not whole documents), after :func:`quotes` are on screen.

    >>> compose({"name": "sql_query", "result": {"data": {"columns": ["orders"], "rows": [[1234]]}, "summary": ""},
    ...          "error": None, "spec": None}, "how many orders?")
    'orders: 1,234.'

What it leaves out: other languages; charts (the tools attach those).
"""

from __future__ import annotations

import re

import numpy as np

from .semantic import Query

__all__ = ["compose", "PROSE_TOOLS", "compact_evidence", "quotes", "fmt"]

#: Tools whose answer the generator writes (from compact evidence).
PROSE_TOOLS = {"search_corpus", "review_analysis", "topics", "draft_reply", "product_reviews", "shop_policy"}


def fmt(v, unit: str = "") -> str:
    """A value as the answer shows it; numbers keep the precision the tool gave them."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        s = f"{int(v):,}"
    elif isinstance(v, (float, np.floating)):
        s = f"{float(v):,.2f}".rstrip("0").rstrip(".") if unit != "$" else f"{float(v):,.2f}"
    else:
        return str(v)
    return f"${s}" if unit == "$" else f"{s}%" if unit == "%" else s


def _sql_answer(call: dict) -> str:
    data = call["result"]["data"]
    cols, rows = data["columns"], data["rows"]
    q = Query.from_dict(call.get("spec"))
    m = q.metric if q else None
    unit = m.unit if m else ""
    label = q.describe() if q else None
    if not rows:
        return f"No rows match{' ' + label if label else ''}."
    if len(cols) == 1 and len(rows) == 1:
        v = rows[0][0]
        return f"{label[0].upper() + label[1:] if label else cols[0]}: {fmt(v, unit)}." if v is not None else \
            f"There is no data for {label or cols[0]}."
    if len(rows) == 1 and len(cols) == 2 and q and q.limit == 1:
        k, v = rows[0]
        most = "fewest" if q.order == "ASC" else "most"
        if unit in ("$", "%") or not m.name.endswith("s"):
            most = "lowest" if q.order == "ASC" else "highest"
        return f"{cols[0].replace('_', ' ').capitalize()} {k} had the {most} {m.label}: {fmt(v, unit)}."
    head = label[0].upper() + label[1:] if label else " | ".join(cols)
    lines = [f"{head}:"] + [f"- {' | '.join(fmt(x) for x in r[:-1])}: {fmt(r[-1], unit)}" for r in rows[:25]]
    if len(rows) > 25 or data.get("truncated"):
        lines.append("(more rows than shown here)")
    return "\n".join(lines)


_HANDOFF = ("I'm passing this conversation to a person on our team. They will reply here during business hours; "
            "you don't need to repeat anything.")


def compose(call: dict, question: str) -> str | None:
    """The answer for one finished tool call, or None when the generator should write it."""
    if call.get("error"):
        return f"I could not answer that from the data: {call['error']}"
    name = call["name"]
    if name in PROSE_TOOLS:
        return None
    if name == "sql_query":
        return _sql_answer(call)
    if name == "handoff":
        return _HANDOFF
    summary = (call.get("result") or {}).get("summary") or ""
    return summary or None


# -- prose tools: compact evidence and quotes ------------------------------------------------------

_SENT = re.compile(r"(?<=[.!?])\s+")
#: sentences that address an assistant rather than describe a product or an event: never quoted, never read
_INJECTION = re.compile(r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above)\b|"
                        r"\b(?:reply|respond|answer|say)\s+only\b|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|"
                        r"\bas an ai\b|\bassistant:|\b(?:admin|developer|god|debug)\s+mode\b|\bjailbreak|\bsystem notice\b", re.I)


def _best_sentences(text: str, qv: np.ndarray, embedder, n: int = 2, max_chars: int = 220) -> str:
    if _INJECTION.search(text or ""):
        return ""  # a document that talks to an assistant is withheld whole: its other sentences may be orders too
    sents = [s.strip() for s in _SENT.split(text or "") if len(s.strip()) > 3][:12]
    if len(sents) <= n:
        return " ".join(sents)[:max_chars]
    sims = embedder.encode(sents) @ qv
    keep = sorted(np.argsort(-sims)[:n])
    return " ".join(sents[i] for i in keep)[:max_chars]


def compact_evidence(question: str, sources: list[dict], embedder, k: int = 4) -> list[dict]:
    """The first ``k`` sources, each cut to its sentences nearest the question: what the generator reads."""
    if not sources:
        return []
    qv = embedder.encode([question])[0]
    out = [{**s, "text": _best_sentences(s.get("text") or "", qv, embedder)} for s in sources[:k]]
    return [s if s["text"] else {**s, "text": "(this document's text addresses an assistant; not quoted)"} for s in out]


def quotes(evidence: list[dict]) -> str:
    """The quoted sentences, numbered like the sources, shown before the generator starts."""
    kinds = {s.get("kind") for s in evidence}
    head = "From the reviews:" if kinds == {"review"} else "From the posts:" if kinds == {"post"} else \
        "From the help articles:" if kinds == {"help"} else "From the documents:"
    return "\n".join([head] + [f"[{i}] “{s['text'].strip()}”" for i, s in enumerate(evidence, start=1)])
