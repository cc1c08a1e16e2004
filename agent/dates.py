"""Date phrases in a question, resolved to explicit ranges before the router sees it.

Small models do calendar arithmetic badly ("Q3 1997" became July to December), so
Pulse resolves the phrase in code and hands the router a line like
``Q3 1997 = 1997-07-01 to 1997-10-01 (end exclusive)``.

    >>> from datetime import date
    >>> [str(s) for s in resolve_dates("orders in the first half of 1997 vs Q1 1998?", date(1998, 7, 1))]
    ['the first half of 1997 = 1997-01-01 to 1997-07-01 (end exclusive)', 'Q1 1998 = 1998-01-01 to 1998-04-01 (end exclusive)']
    >>> [str(s) for s in resolve_dates("revenue last quarter", date(1998, 7, 1))]
    ['last quarter = 1998-04-01 to 1998-07-01 (end exclusive)']

Relative phrases (last month, this year, last 30 days) count from ``today``. For
a workspace whose data has ended (the demo's orders stop in June 1998), "today"
is the day after the newest order, so "last quarter" means the last full quarter
of data, which is what an analyst of that data means.
Chinese phrases resolve the same way: 2024年3月, 2024年第三季度 (第三季度 alone is
the latest one that began before today), 2024年上半年, 今年3月, 上个月 / 本季度 / 上周 / 去年 / 前年,
最近30天 / 近三个月, and 2024年.

    >>> [str(s) for s in resolve_dates("上个月的订单和1997年第三季度比呢", date(1998, 7, 1))]
    ['上个月 = 1998-06-01 to 1998-07-01 (end exclusive)', '1997年第三季度 = 1997-07-01 to 1997-10-01 (end exclusive)']

What it leaves out: weekdays ("last Tuesday", "上周二"), fiscal calendars, languages other than English and Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["DateSpan", "resolve_dates", "describe_dates", "with_ranges", "without_dates", "zh_int"]

_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4, "final": 4}
_ZH_DIGITS = "零一二两三四五六七八九十"
_ZH_NUM = f"[{_ZH_DIGITS}]"
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"((?:19|20)\d\d)"
_ZH_Y = rf"(?:{_YEAR}|([今去前]))\s*年"  # 1997年, 今年, 去年, 前年: two groups

_PATTERNS = [
    # "Q1 vs Q2 1998": the first quarter takes the year written after the second
    ("quarter", re.compile(rf"\bq([1-4])(?=\s*(?:vs\.?|versus|and|or|to|compared (?:to|with))\s*q[1-4]\s*'?{_YEAR}\b)", re.I)),
    ("years", re.compile(rf"\b(?:from|between)\s+{_YEAR}\s*(?:-|to|and|until|till|through|thru)\s*{_YEAR}\b", re.I)),
    ("quarter", re.compile(rf"\bq([1-4])\s*(?:of\s+)?'?{_YEAR}\b", re.I)),
    (
        "quarter_words",
        re.compile(rf"\bthe\s+(first|1st|second|2nd|third|3rd|fourth|4th|last|final)\s+quarter\s+(?:of\s+)?{_YEAR}\b", re.I),
    ),
    ("half", re.compile(rf"\bthe\s+(first|1st|second|2nd|last)\s+half\s+(?:of\s+)?{_YEAR}\b", re.I)),
    ("half_h", re.compile(rf"\bh([12])\s*(?:of\s+)?{_YEAR}\b", re.I)),
    ("month", re.compile(rf"\b({_MON})\.?,?\s+(?:of\s+)?{_YEAR}\b", re.I)),
    ("relative", re.compile(r"\b(last|previous|past|this|current)\s+(week|month|quarter|year)\b", re.I)),
    ("last_n", re.compile(r"\b(?:last|past|previous)\s+(\d{1,3})\s+(day|week|month)s?\b", re.I)),
    ("year", re.compile(rf"\b(?:in|during|for|throughout|of)\s+(?:the\s+year\s+)?{_YEAR}\b(?!\s*-)", re.I)),
    ("year", re.compile(rf"\bfrom\s+(?:the\s+year\s+)?{_YEAR}\b(?!\s*(?:-|to\b|until\b|till\b|through\b|thru\b))", re.I)),
    # Chinese: 2024年3月, 2024年第三季度 / 第三季度, 2024年上半年, 今年3月, 上个月 / 本季度 / 去年, 最近30天 / 近三个月, 2024年
    ("zh_month", re.compile(rf"{_ZH_Y}\s*({_ZH_NUM}{{1,3}}|\d{{1,2}})\s*月(?:份)?")),
    ("zh_quarter", re.compile(rf"(?:{_ZH_Y}\s*(?:的)?)?第?\s*([一二三四1-4])\s*(?:季度|季)")),
    ("zh_half", re.compile(rf"{_ZH_Y}\s*(?:的)?([上下])半年")),
    ("zh_relative", re.compile(r"(上上|上|本|这|今|去|前)\s*(?:一)?(?:个)?\s*(周|星期|礼拜|月|季度|年)(?:度)?")),
    ("zh_last_n", re.compile(rf"(?:最近|过去|近|前)\s*({_ZH_NUM}{{1,3}}|\d{{1,3}})\s*(?:个)?\s*(天|日|周|星期|礼拜|月)")),
    ("year", re.compile(rf"{_YEAR}\s*年(?!\s*(?:的)?(?:\d|[{_ZH_DIGITS}]|第|[上下]半年))")),
]


@dataclass(frozen=True)
class DateSpan:
    phrase: str
    at: tuple[int, int]  # where the phrase sits in the text
    start: date
    end: date  # exclusive

    def __str__(self) -> str:
        return f"{self.phrase} = {self.start.isoformat()} to {self.end.isoformat()} (end exclusive)"


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _period(today: date, unit: str, offset: int) -> tuple[date, date]:
    """The calendar week, month, quarter or year ``offset`` periods from the one holding ``today`` (-1: the last)."""
    if unit == "week":
        start = today - timedelta(days=today.weekday()) + timedelta(days=7 * offset)
        return start, start + timedelta(days=7)
    step = {"month": 1, "quarter": 3, "year": 12}[unit]
    this = {"month": date(today.year, today.month, 1), "quarter": _quarter_start(today), "year": date(today.year, 1, 1)}
    start = _add_months(this[unit], step * offset)
    return start, _add_months(start, step)


def _last_n(today: date, n: int, unit: str) -> tuple[date, date]:
    """The last ``n`` days or weeks up to today, or the last ``n`` whole months."""
    if unit == "month":
        return _add_months(date(today.year, today.month, 1), -n), date(today.year, today.month, 1)
    return today - timedelta(days=n * (7 if unit == "week" else 1)), today


def zh_int(s: str) -> int:
    """A small number written in digits or Chinese numerals: 3, 三, 十二, 二十, 两."""
    if s.isdigit():
        return int(s)
    d = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
    if "十" not in s:
        return d.get(s, 0)
    tens, _, ones = s.partition("十")
    return (d.get(tens, 1) if tens else 1) * 10 + (d.get(ones, 0) if ones else 0)


def _zh_year(g: tuple, today: date) -> int:
    """The year of a ``_ZH_Y`` match: written out, or 今 / 去 / 前 counted from today."""
    return int(g[0]) if g[0] else today.year - {"今": 0, "去": 1, "前": 2}[g[1]]


#: 上 last, 上上 the one before, 本 / 这 / 今 this, 去 last (year), 前 the year before last
_ZH_WHICH = {"上": -1, "上上": -2, "本": 0, "这": 0, "今": 0, "去": -1, "前": -2}
_ZH_UNIT = {"周": "week", "星期": "week", "礼拜": "week", "月": "month", "季度": "quarter", "年": "year"}


def _span(kind: str, m: re.Match, today: date) -> tuple[date, date] | None:
    g = m.groups()
    if kind == "zh_month":
        month = zh_int(g[2])
        if not 1 <= month <= 12:
            return None
        start = date(_zh_year(g, today), month, 1)
        return start, _add_months(start, 1)
    if kind == "zh_quarter":
        q = zh_int(g[2])
        if g[0] or g[1]:
            year = _zh_year(g, today)
        else:  # 第三季度 alone: the latest third quarter that began before today
            year = today.year - (1 if date(today.year, 3 * (q - 1) + 1, 1) >= today else 0)
        start = date(year, 3 * (q - 1) + 1, 1)
        return start, _add_months(start, 3)
    if kind == "zh_half":
        start = date(_zh_year(g, today), 1 if g[2] == "上" else 7, 1)
        return start, _add_months(start, 6)
    if kind == "zh_relative":
        if g[0] in ("今", "去", "前") and _ZH_UNIT[g[1]] != "year":
            return None  # 今年 / 去年 / 前年 only: "前" before a week or a month is not a date phrase
        return _period(today, _ZH_UNIT[g[1]], _ZH_WHICH[g[0]])
    if kind == "zh_last_n":
        n = zh_int(g[0])
        return _last_n(today, n, {"天": "day", "日": "day", "月": "month"}.get(g[1], "week")) if n > 0 else None
    if kind == "quarter":
        q, y = int(g[0]), int(g[1])
        start = date(y, 3 * (q - 1) + 1, 1)
        return start, _add_months(start, 3)
    if kind == "quarter_words":
        start = date(int(g[1]), 3 * (_ORD[g[0].lower()] - 1) + 1, 1)
        return start, _add_months(start, 3)
    if kind in ("half", "half_h"):
        h = 2 if g[0].lower() in ("second", "2nd", "last", "2") else 1
        start = date(int(g[1]), 1 if h == 1 else 7, 1)
        return start, _add_months(start, 6)
    if kind == "month":
        start = date(int(g[1]), _MONTHS[g[0].lower().rstrip(".")], 1)
        return start, _add_months(start, 1)
    if kind == "year":
        return date(int(g[0]), 1, 1), date(int(g[0]) + 1, 1, 1)
    if kind == "years":  # "from 2016 to 2018": both years whole
        a, b = sorted((int(g[0]), int(g[1])))
        return date(a, 1, 1), date(b + 1, 1, 1)
    if kind == "relative":
        return _period(today, g[1].lower(), 0 if g[0].lower() in ("this", "current") else -1)
    if kind == "last_n":
        return _last_n(today, int(g[0]), g[1].lower())
    return None


def resolve_dates(text: str, today: date) -> list[DateSpan]:
    """Every date phrase in ``text`` with its range, in the order they appear; overlapping matches keep the first."""
    found: list[tuple[int, int, DateSpan]] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(text):
            if any(a < m.end() and m.start() < b for a, b, _ in found):
                continue
            span = _span(kind, m, today)
            if span:
                phrase = re.sub(r"^(in|during|for|throughout|of|from)\s+(?=the\s+year|\d)", "", m.group(0).strip(), flags=re.I)
                found.append((m.start(), m.end(), DateSpan(phrase, (m.start(), m.end()), *span)))
    return [s for _, _, s in sorted(found, key=lambda x: x[0])]


def describe_dates(text: str, today: date) -> str:
    """The router's hint: one line per phrase, or '' when the message has none."""
    spans = resolve_dates(text, today)
    return "; ".join(str(s) for s in spans)


def with_ranges(text: str, today: date) -> str:
    """The text with each phrase replaced by its range: what the semantic router compares.

    "orders last quarter" reads like a forecast request to an embedding; the range does not.

        >>> with_ranges("how many orders last quarter?", date(1998, 7, 1))
        'how many orders from 1998-04-01 to 1998-07-01?'
    """
    out, pos = [], 0
    for s in resolve_dates(text, today):
        a, b = s.at
        out += [text[pos:a], f"from {s.start.isoformat()} to {s.end.isoformat()}"]
        pos = b
    return "".join(out) + text[pos:]


def without_dates(text: str, spans: list[DateSpan]) -> str:
    """The text with each resolved phrase blanked out: what is left names the subject, the metric, the grouping.

    >>> without_dates("orders in May 1997 by week", resolve_dates("orders in May 1997 by week", date(1998, 7, 1)))
    'orders in   by week'
    """
    for s in sorted(spans, key=lambda s: s.at, reverse=True):
        text = text[: s.at[0]] + " " + text[s.at[1] :]
    return text
