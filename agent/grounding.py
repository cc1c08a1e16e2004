"""Grounding: an answer may state only numbers that a tool (or the user) gave.

    >>> ungrounded_numbers("Customer 42 spent $38.32 over 2 orders [1].", ["customer 42: 38.32 total, 2 orders"])
    []
    >>> ungrounded_numbers("They spent $40 in total.", ["38.32"])
    ['40']

Numbers are compared by value after removing ``$``, ``,`` and ``%``; a value
is grounded when some evidence number matches it exactly or to the precision
it is written with (``4.2`` matches ``4.19``). Citation markers ``[n]`` and
list numbering are not claims. Dates count through their parts (``1998-03``
grounds ``1998`` and ``3``).

Promises are checked the same way: :func:`unconfirmed_promises` finds
commitments (refund, replacement, discount, delivery dates, ...) that no
confirmed fact mentions.

    >>> unconfirmed_promises("We will refund you in full.", ["status: delivered"])
    ['refund']

Also here: :func:`fix_citations` drops markers that point at no source.
What it leaves out: checking claims that are not numbers (that needs an NLI
model, which cannot be had offline here).
"""

from __future__ import annotations

import re

__all__ = ["extract_numbers", "ungrounded_numbers", "unconfirmed_promises", "confirmed_facts", "fix_citations", "cited"]

_CITE = re.compile(r"\[(\d{1,3})\]")
_LIST = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
_NUM = re.compile(
    r"(?<![A-Za-z0-9_.])[-+]?\$?\d[\d,]*(?:\.\d+)?%?"
)  # ASCII only: a figure written after a Chinese character counts too


def _clean(tok: str) -> str:
    return tok.replace("$", "").replace(",", "").replace("%", "").lstrip("+")


def extract_numbers(text: str) -> list[str]:
    """Numeric tokens that make a claim (citations and list markers removed)."""
    text = _CITE.sub(" ", text)
    text = _LIST.sub(" ", text)
    out = []
    for m in _NUM.finditer(text):
        tok = _clean(m.group()).rstrip(".")
        if tok and tok not in ("-",):
            out.append(tok)
    return out


def _evidence_values(evidence: list[str]) -> set[float]:
    vals: set[float] = set()
    for text in evidence:
        for tok in re.findall(r"\d[\d,]*(?:\.\d+)?", text):
            try:
                vals.add(float(tok.replace(",", "")))
            except ValueError:
                pass
    return vals


def _matches(tok: str, vals: set[float]) -> bool:
    try:
        x = float(tok)
    except ValueError:
        return True
    decimals = len(tok.split(".")[1]) if "." in tok else 0
    tol = 0.5 * 10 ** (-decimals) + 1e-9
    return any(abs(x - v) <= tol or abs(abs(x) - v) <= tol for v in vals)


def ungrounded_numbers(answer: str, evidence: list[str]) -> list[str]:
    """The answer's numbers that no evidence text contains (as a value, to the written precision)."""
    vals = _evidence_values(evidence)
    return [t for t in extract_numbers(answer) if not _matches(t, vals)]


def fix_citations(answer: str, n_sources: int) -> str:
    """Drop citation markers that point past the numbered sources."""
    return _CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= n_sources else "", answer)


def cited(answer: str) -> list[int]:
    """The source numbers an answer cites, in order of first use."""
    seen: list[int] = []
    for m in _CITE.finditer(answer):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


#: Commitments a reply must not make unless a fact confirms them: (name, pattern).
PROMISES = [
    ("refund", r"\brefund|\breimburs|money back"),
    ("replacement", r"\breplac(?:e|ement)\b|\bexchange\b"),
    ("discount", r"\bdiscount|\bcoupon|\bvoucher|\bpromo code|% off\b"),
    ("credit", r"\bstore credit|\baccount credit|\bcredit (?:you|your)"),
    ("free", r"\bfree (?:of charge|shipping|return|gift|item|replacement)"),
    ("compensation", r"\bcompensat"),
    ("delivery date", r"\b(?:arrive|deliver(?:ed)?|ship(?:ped)?) (?:by|on|within|tomorrow|today|next)\b"),
]


def confirmed_facts(data) -> str:
    """Tool data as text, without quoted free text (``text``, ``title``): what a customer wrote confirms nothing."""
    if isinstance(data, dict):
        return " ".join(confirmed_facts(v) for k, v in data.items() if k not in ("text", "title"))
    if isinstance(data, list):
        return " ".join(confirmed_facts(v) for v in data)
    return "" if data is None else str(data)


def unconfirmed_promises(answer: str, confirmed: list[str]) -> list[str]:
    """Names of commitments in ``answer`` whose pattern no confirmed fact matches."""
    facts = " ".join(confirmed).lower()
    return [name for name, pat in PROMISES if re.search(pat, answer, re.I) and not re.search(pat, facts, re.I)]
