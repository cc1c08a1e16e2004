"""The fast path's understanding step: a message (and the conversation so far) to a plan, without a decode.

1. **Follow-ups** are resolved from the previous turn's plan: "and in February?",
   "what about jeans?", "what did they spend altogether?" keep the tool and the
   entity and swap in what the new message says. Small talk after small talk
   stays small talk.
2. Otherwise the **intent model** (``agent/intent.py``) picks the tool, or none.
3. **Arguments** are read by code (``agent/slots.py``); aggregate questions of a
   known shape get their SQL from the semantic layer (``agent/semantic.py``).
4. A comparison ("Q1 vs Q2 1998", "dresses and tops") becomes up to three calls.

:func:`understand` returns a :class:`Plan`. When the intent model is unsure,
or a required argument is not in the text, the plan says what the generator
must still decide (``ask_generator``: the candidate tools, or the one tool
whose remaining arguments it fills).

    >>> p = understand("and for April 1998?", intents, prev=last_turn, today=date(1998, 7, 1))  # doctest: +SKIP
    >>> p.calls[0]["tool"], p.how                                                              # doctest: +SKIP
    ('sql_query', 'follow-up')

A Chinese message is glossed first (``agent/lang.py``), so every step here reads both languages.

What it leaves out: plans of more than one step that feed each other (each call
here is independent), and languages other than English and Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from pulse.lang import CJK

from . import semantic
from .dates import resolve_dates, without_dates
from .lang import gloss
from .slots import fill, ids_in, quoted_text, subject_of

__all__ = ["Plan", "understand", "is_follow_up", "MAX_CALLS"]

MAX_CALLS = 3
_CANDIDATE_P = 0.45  # below this, an unsure intent model's favourite is not tried without the generator

_FOLLOW = re.compile(
    r"^\s*(?:and|also|plus|but|so|then|now|ok(?:ay)?,?\s+and|what about|how about|same for|same but|"
    r"and what about|and how about)\b|\b(?:they|them|their|theirs|he|she|his|her|it|its|those|these|"
    r"that customer|this customer|that product|this product|that one|this one|instead|the same)\b",
    re.I,
)
#: a request to change data: Pulse's analyst only reads, so this is refused in code, never turned into a query
_WRITE = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:delete|drop|remove|erase|wipe|truncate|update|insert|alter|"
    r"overwrite|purge)\b.*\b(?:orders?|customers?|reviews?|posts?|tweets?|products?|ratings?|data|rows?|tables?|"
    r"records?|database)\b",
    re.I,
)
#: the same request in Chinese, where the object may come before the verb ("把所有订单都删掉")
_WRITE_ZH = re.compile(
    r"(?:删除|删掉|删了|清空|清除|修改|改掉|更新|插入|添加|新增).{0,12}(?:订单|客户|顾客|评论|评价|帖子|商品|产品|数据|记录|表)|"
    r"(?:把|将).{0,12}(?:订单|客户|顾客|评论|评价|帖子|商品|产品|数据|记录|表).{0,12}(?:删|清空|清除|改|更新)"
)
_COMPARE = re.compile(r"\b(?:compare|comparison|vs\.?|versus|against|difference between)\b|\bor\b.*\?$", re.I)


@dataclass
class Plan:
    calls: list[dict] = field(default_factory=list)  # [{"tool", "args", "spec"?}]; empty: no tool
    how: str = "intent"  # intent | follow-up | small-talk | generator | generator-args
    p: float | None = None  # the intent model's confidence
    ask_generator: list[str] | None = None  # tools the generator must choose among / fill (None: nothing)
    missing: list[str] = field(default_factory=list)  # arguments left to the generator


def is_follow_up(text: str) -> bool:
    """Does the message lean on the previous turn ("and ...", "what about ...", "they", "it")?"""
    return bool(_FOLLOW.search(text)) and len(text.split()) <= 14 and not ids_in(text)


def _sql_calls(text: str, today: date, categories: list[str], prev_spec: semantic.Query | None) -> list[dict] | None:
    spans = resolve_dates(text, today)
    if len(spans) >= 2 and _COMPARE.search(text) or len(spans) >= 2 and re.search(r"\band\b", text):
        base = semantic.parse(without_dates(text, spans), today, categories, prev=prev_spec)
        if base is None:
            return None
        from dataclasses import replace

        return [
            {"tool": "sql_query", "args": {"sql": q.sql()}, "spec": q.to_dict()}
            for q in (replace(base, since=s.start, until=s.end, period=s.phrase) for s in spans[:MAX_CALLS])
        ]
    q = semantic.parse(text, today, categories, prev=prev_spec)
    return None if q is None else [{"tool": "sql_query", "args": {"sql": q.sql()}, "spec": q.to_dict()}]


def _subjects(text: str, today: date) -> list[str]:
    """Two or three subjects joined by and / or / vs in a comparison: "dresses and tops" -> [dresses, tops]."""
    if not _COMPARE.search(text):
        return []
    pieces = re.split(r"\b(?:and|or|vs\.?|versus|against|compared (?:to|with)|with)\b|,", text, flags=re.I)
    parts = [subject_of(re.sub(r"\b(?:compare|comparison|difference)\b", " ", p, flags=re.I), today) for p in pieces]
    found = [p for p in parts if p]
    return found[:MAX_CALLS] if len(parts) >= 2 else []


def _swap_subject(old: str | None, new: str | None, categories: list[str]) -> str | None:
    """The earlier subject with the new one swapped in: "fabric quality dresses" + "jeans" -> "fabric quality jeans"."""
    if not new:
        return old
    if not old:
        return new
    words = old.split()
    cats = {c.lower().rstrip("s") for c in categories}
    for i, w in enumerate(words):
        if w.lower().rstrip("s") in cats:
            return " ".join(words[:i] + [new] + words[i + 1 :])
    return " ".join(words[:-1] + [new]) if len(words) > 1 else new


def _follow(text: str, prev: Mapping, today: date, categories: list[str]) -> list[dict] | None:
    """The previous turn's calls with what the new message says swapped in; None when nothing carries over."""
    tool, args = prev.get("tool"), dict(prev.get("args") or {})
    if not tool:
        return None
    if tool == "sql_query":
        return _sql_calls(text, today, categories, semantic.Query.from_dict(prev.get("spec")))
    new = fill(tool, text, today).args
    if tool == "search_corpus":
        new.pop("query", None)
        args["query"] = _swap_subject(
            subject_of(args.get("query") or "", today), subject_of(text, today), categories
        ) or args.get("query")
    elif "query" in new or tool in ("sentiment", "topics", "entities"):
        if new.get("query"):
            new["query"] = _swap_subject(args.get("query"), new["query"], categories)
    args.update(new)
    return [{"tool": tool, "args": args}]


def understand(
    text: str,
    intents,
    turns: Sequence[Mapping] | None = None,
    today: date | None = None,
    categories: list[str] | None = None,
    tools: dict | None = None,
) -> Plan:
    """The plan for ``text`` given the earlier ``turns`` (their ``tool``, ``args`` and ``spec``)."""
    plan = _understand(text, intents, turns, today, categories, tools)
    given = quoted_text(text) if CJK.search(text) else None
    for c in plan.calls if given else []:  # a text to score is the user's own words, not their gloss
        if "text" in c.get("args", {}):
            c["args"]["text"] = given
    return plan


def _understand(
    text: str,
    intents,
    turns: Sequence[Mapping] | None,
    today: date | None,
    categories: list[str] | None,
    tools: dict | None,
) -> Plan:
    today = today or date.today()
    categories = categories or []
    write_zh = bool(_WRITE_ZH.search(text))
    text = gloss(text)  # Chinese request words in the English the readers below know (agent/lang.py)
    if (_WRITE.search(text) or write_zh) and (tools is None or "sql_query" in tools):
        return Plan(how="read-only", missing=["write"])
    prev = (turns or [])[-1] if turns else None
    intent, probs = intents.predict(text)
    ranked = [n for n, _ in sorted(probs.items(), key=lambda kv: -kv[1])]
    if (
        prev is not None
        and is_follow_up(text)
        and not (intent.name == "none" and intent.p >= 0.85 and not re.match(r"^\s*(?:and|what about|how about)\b", text, re.I))
    ):
        if not prev.get("tool"):
            if intent.name == "none" or not intent.confident:
                return Plan(how="small-talk", p=intent.p)
        else:
            calls = _follow(text, prev, today, categories)
            if calls:
                return Plan(calls=calls, how="follow-up", p=intent.p)
    if prev is not None and not prev.get("tool") and intent.name == "none":
        return Plan(how="small-talk", p=intent.p)
    if intent.name == "none" and (intent.confident or intent.p >= 0.45):
        return Plan(how="intent", p=intent.p)
    # the tool: the intent model's choice when it is sure, else the likeliest candidate code can fill completely
    cands = [intent.name] if intent.confident else [n for n in ranked if n != "none" and probs[n] >= 0.15][:3]
    # unsure and no clear favourite: code does not guess, the generator chooses (narrowed to the likely tools, or none)
    for tool in cands if intent.confident or intent.p >= _CANDIDATE_P else []:
        calls = _code_calls(tool, text, today, categories)
        if calls:
            return Plan(calls=calls, how="intent" if intent.confident else "intent-candidates", p=intent.p)
    # the generator decides what is left; never a tool whose id the message does not give (it would invent one)
    pool = list(dict.fromkeys(cands + [n for n in ranked if n != "none"][:3]))
    fillable = [t for t in pool if not any(m == "id" or m.endswith("_id") for m in fill(t, text, today).missing)]
    if not fillable:
        return Plan(how="clarify", p=intent.p, missing=fill(pool[0], text, today).missing)
    if len(fillable) == 1:
        f = fill(fillable[0], text, today)
        return Plan(
            calls=[{"tool": fillable[0], "args": f.args}],
            how="generator-args",
            p=intent.p,
            ask_generator=fillable,
            missing=f.missing,
        )
    return Plan(how="generator", p=intent.p, ask_generator=fillable)


def _code_calls(tool: str, text: str, today: date, categories: list[str]) -> list[dict] | None:
    """The calls for ``tool`` when code can read every argument from ``text``; None when it cannot."""
    if tool == "sql_query":
        return _sql_calls(text, today, categories, None)
    filled = fill(tool, text, today)
    if filled.missing:
        return None
    calls = [{"tool": tool, "args": filled.args}]
    if tool in ("sentiment", "topics") and "text" not in filled.args and (subs := _subjects(text, today)):
        calls = [{"tool": tool, "args": {**filled.args, "query": s}} for s in subs]
    elif tool in ("shop_lookup", "review_analysis", "customer_profile"):
        key = "customer_id" if tool == "customer_profile" else "product_id" if tool == "review_analysis" else None
        many = re.findall(r"\b(?:product|item|customer)s?\s*#?\s*(\d[\w-]*)", text, re.I)
        if len(set(many)) >= 2:
            argname = key or "id"
            calls = [{"tool": tool, "args": {**filled.args, argname: i}} for i in dict.fromkeys(many)][:MAX_CALLS]
    return calls
