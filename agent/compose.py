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

A Chinese question gets its code-written answer in Chinese where code writes it
(figures from the semantic layer, errors, hand-offs, the quotes' heading); other
tools' summaries stay as the tool wrote them.
What it leaves out: languages beyond English and Chinese; charts (the tools attach those).
"""

from __future__ import annotations

import re

import numpy as np

from .lang import language_of
from .semantic import Query

__all__ = ["compose", "compare", "PROSE_TOOLS", "compact_evidence", "quotes", "fmt"]

#: Tools whose answer the generator writes (from compact evidence).
PROSE_TOOLS = {"search_corpus", "topics", "draft_reply", "product_reviews", "shop_policy"}


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


_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _key(v, lang: str = "en") -> str:
    """A group key as people read it: ``1997-03`` is March 1997 (1997年3月)."""
    if isinstance(v, str) and re.fullmatch(r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])", v):
        if lang == "zh":
            return f"{v[:4]}年{int(v[5:])}月"
        return f"{_MONTH_NAMES[int(v[5:]) - 1]} {v[:4]} ({v})"
    return fmt(v)


def _sql_answer_zh(cols: list, rows: list, q: Query | None, truncated: bool) -> str:
    m = q.metric if q else None
    unit = m.unit if m else ""
    label = q.describe("zh") if q else None
    if not rows:
        return f"没有符合条件的数据{'(' + label + ')' if label else ''}。"
    if len(cols) == 1 and len(rows) == 1:
        v = rows[0][0]
        return f"{label or cols[0]}:{fmt(v, unit)}。" if v is not None else f"没有{label or cols[0]}的数据。"
    if len(rows) == 1 and len(cols) == 2 and q and m and q.limit == 1:
        k, v = rows[0]
        most = "最低" if q.order == "ASC" else "最高"
        return f"{_ZH_DIM.get(cols[0], cols[0])} {_key(k, 'zh')} 的{m.label_zh}{most}:{fmt(v, unit)}。"
    head = f"{label}:" if label else " | ".join(_ZH_DIM.get(c, c) for c in cols) + ":"
    lines = [head] + [f"- {' | '.join(_key(x, 'zh') for x in r[:-1])}:{fmt(r[-1], unit)}" for r in rows[:25]]
    if len(rows) > 25 or truncated:
        lines.append("(行数多于这里显示的)")
    return "\n".join(lines)


#: a grouping column's name in Chinese answers
_ZH_DIM = {"customer_id": "客户", "product_id": "商品", "category": "类别", "department": "部门", "division": "系列"}
_ZH_DIM |= {"rating": "星级", "status": "状态", "author": "作者", "source": "来源", "month": "月份", "quarter": "季度"}
_ZH_DIM |= {"week": "周", "year": "年份", "day": "日期", "weekday": "星期", "total": "金额", "n_items": "件数"}
_ZH_DIM |= {"order_id": "订单", "order_date": "下单日期", "name": "名称", "n": "数量", "count": "数量"}


def _sql_answer(call: dict, lang: str = "en") -> str:
    data = call["result"]["data"]
    cols, rows = data["columns"], data["rows"]
    q = Query.from_dict(call.get("spec"))
    if lang == "zh":
        return _sql_answer_zh(cols, rows, q, bool(data.get("truncated")))
    m = q.metric if q else None
    unit = m.unit if m else ""
    label = q.describe() if q else None
    if not rows:
        return f"No rows match{' ' + label if label else ''}."
    if len(cols) == 1 and len(rows) == 1:
        v = rows[0][0]
        return (
            f"{label[0].upper() + label[1:] if label else cols[0]}: {fmt(v, unit)}."
            if v is not None
            else f"There is no data for {label or cols[0]}."
        )
    if len(rows) == 1 and len(cols) == 2 and q and m and q.limit == 1:
        k, v = rows[0]
        most = "fewest" if q.order == "ASC" else "most"
        if unit in ("$", "%") or not m.name.endswith("s"):
            most = "lowest" if q.order == "ASC" else "highest"
        return f"{cols[0].replace('_', ' ').capitalize()} {_key(k)} had the {most} {m.label}: {fmt(v, unit)}."
    head = label[0].upper() + label[1:] if label else " | ".join(cols)
    lines = [f"{head}:"] + [f"- {' | '.join(_key(x) for x in r[:-1])}: {fmt(r[-1], unit)}" for r in rows[:25]]
    if len(rows) > 25 or data.get("truncated"):
        lines.append("(more rows than shown here)")
    return "\n".join(lines)


_HANDOFF = (
    "I'm passing this conversation to a person on our team. They will reply here during business hours; "
    "you don't need to repeat anything."
)
_HANDOFF_ZH = "我正在把这段对话转给我们团队的工作人员。他们会在工作时间内在这里回复您,您无需重复之前的内容。"


def compose(call: dict, question: str) -> str | None:
    """The answer for one finished tool call, in the question's language, or None when the generator should write it."""
    zh = language_of(question) == "zh"
    if call.get("error"):
        return f"无法根据数据回答这个问题:{call['error']}" if zh else f"I could not answer that from the data: {call['error']}"
    name = call["name"]
    if name in PROSE_TOOLS:
        return None
    if name == "sql_query":
        return _sql_answer(call, "zh" if zh else "en")
    if name == "handoff":
        return _HANDOFF_ZH if zh else _HANDOFF
    summary = (call.get("result") or {}).get("summary") or ""
    return summary or None


def _rated(call: dict) -> tuple[str, float, int] | None:
    """(product id, exact mean rating, reviews) from a review tool's data, or None."""
    d = (call.get("result") or {}).get("data")
    if not isinstance(d, dict):
        return None
    pid = d.get("product_id") or (d.get("product") or {}).get("product_id")
    mean = d.get("mean_rating", d.get("avg_rating"))
    return (str(pid), float(mean), int(d.get("reviews") or 0)) if pid and mean is not None else None


def compare(calls: list[dict]) -> str | None:
    """One line ranking the products of a multi-call turn by average rating, to as many decimals as tell them apart.

    >>> mk = lambda p, m: {"result": {"data": {"product_id": p, "mean_rating": m, "reviews": 9}}}
    >>> compare([mk("a", 4.1903), mk("b", 4.1931)])
    'Product b has the higher average rating: 4.193 of 5, against 4.190 for product a.'
    """
    got = [_rated(c) for c in calls]
    rated = [r for r in got if r is not None]
    if len(rated) < 2 or len(rated) < len(got) or len({r[0] for r in rated}) < len(rated):
        return None
    rated.sort(key=lambda r: -r[1])
    (p1, m1, _), (_, m2, _) = rated[0], rated[1]
    if m1 == m2:
        return f"Products {' and '.join(r[0] for r in rated)} have the same average rating, {m1:.2f} of 5."
    nd = next((k for k in range(2, 6) if round(m1, k) != round(m2, k)), 5)
    others = ", ".join(f"{m:.{nd}f} for product {p}" for p, m, _ in rated[1:])
    return f"Product {p1} has the higher average rating: {m1:.{nd}f} of 5, against {others}."


# -- prose tools: compact evidence and quotes ------------------------------------------------------

_SENT = re.compile(r"(?<=[.!?])\s+")
#: sentences that address an assistant rather than describe a product or an event: never quoted, never read
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above)\b|"
    r"\b(?:reply|respond|answer|say)\s+only\b|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|"
    r"\bas an ai\b|\bassistant:|\b(?:admin|developer|god|debug)\s+mode\b|\bjailbreak|\bsystem notice\b",
    re.I,
)


def _best_sentences(text: str, qv: np.ndarray, embedder, n: int = 2, max_chars: int = 180) -> str:
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
    qv = embedder.encode_queries([question])[0]
    # a help article is short and every sentence of it may be the rule asked about: it keeps more of its text
    out = [
        {**s, "text": _best_sentences(s.get("text") or "", qv, embedder, *((4, 420) if s.get("kind") == "help" else ()))}
        for s in sources[: k if sources[0].get("kind") != "help" else 2]
    ]
    return [s if s["text"] else {**s, "text": "(this document's text addresses an assistant; not quoted)"} for s in out]


_QUOTE_HEADS = {
    "en": {
        "review": "From the reviews:",
        "post": "From the posts:",
        "help": "From the help articles:",
        None: "From the documents:",
    },
    "zh": {"review": "评论摘录:", "post": "帖子摘录:", "help": "帮助文章摘录:", None: "文档摘录:"},
}


def quotes(evidence: list[dict], lang: str = "en") -> str:
    """The quoted sentences, numbered like the sources, shown before the generator starts."""
    kinds = {s.get("kind") for s in evidence}
    heads = _QUOTE_HEADS.get(lang, _QUOTE_HEADS["en"])
    head = heads.get(next(iter(kinds)) if len(kinds) == 1 else None, heads[None])
    return "\n".join([head] + [f"[{i}] “{s['text'].strip()}”" for i, s in enumerate(evidence, start=1)])
