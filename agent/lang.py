"""The question's language, and Chinese requests read by the same code that reads English ones.

Pulse's readers of a message (follow-ups, ids, the semantic layer, argument
filling) are written once, over English request words. A Chinese message is
glossed first: request words ("多少", "订单", "每月", "销售额", "前5名") become
the English words those readers know, by the longest match in
``agent/intents/zh_terms.yaml``; ids written the Chinese way ("客户42",
"订单号 10248") become "customer 42" and "order 10248"; spans ahead ("未来8周",
"下个季度", "明年") become "next 8 weeks", "next quarter", "next year"; date phrases
("上个月", "1997年第三季度") are left as they are for ``agent/dates.py``; every
other word stays Chinese, so a search still looks for what the user wrote.

    >>> language_of("上个月的订单有多少?"), language_of("how many orders?")
    ('zh', 'en')
    >>> gloss("上个月有多少订单?")
    '上个月 how many orders ?'
    >>> gloss("前5名客户的收入")
    'top 5 customer 的 revenue'
    >>> gloss("客户42买了什么")
    'customer 42 买了什么'
    >>> gloss("预测未来8周的订单数"), gloss("下个季度的收入会是多少?")
    ('forecast next 8 weeks 的 orders', 'next quarter 的 revenue will be how many ?')

What it leaves out: languages other than English and Chinese; word segmentation
(glossing matches whole request words; jieba segments documents in the tools).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib import resources

from pulse.lang import CJK, is_chinese, language_of

from .dates import resolve_dates, zh_int

__all__ = ["language_of", "is_chinese", "gloss"]

_IDS = re.compile(r"(订单|客户|顾客|买家|商品|产品|用户|评论|帖子)\s*(?:号码|编号|号|ID|id)?\s*[#＃:：]?\s*(\d[\dA-Za-z-]*)")
_TOP = re.compile(r"前\s*(\d{1,3}|[一二两三四五六七八九十]{1,3})\s*(?:名|位|个|大|款|件)")
_UNIT = {"天": "day", "日": "day", "周": "week", "星期": "week", "礼拜": "week", "月": "month", "季度": "quarter", "年": "year"}
#: a span ahead of the data, which only a forecast answers: 未来8周, 接下来三个月, 下个季度, 下周, 明年
_AHEAD = re.compile(
    r"(?:未来|接下来的?|今后|之后的?)\s*(\d{1,3}|[一二两三四五六七八九十]{1,3})?\s*个?\s*(天|日|周|星期|礼拜|月|季度|年)"
)
_NEXT = re.compile(r"下\s*个?\s*(周|星期|礼拜|月|季度)|(明)年")
_ID_WORD = {"订单": "order", "客户": "customer", "顾客": "customer", "买家": "customer", "商品": "product", "产品": "product"}
_ID_WORD |= {"用户": "user", "评论": "review", "帖子": "post"}


@lru_cache(maxsize=1)
def _terms() -> tuple[re.Pattern, dict[str, str]]:
    import yaml

    data = yaml.safe_load(resources.files("agent").joinpath("intents", "zh_terms.yaml").read_text(encoding="utf-8"))
    table = {zh: en for group in data.values() for zh, en in group.items()}
    pattern = re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)))
    return pattern, table


def _ahead(m: re.Match) -> str:
    unit = _UNIT[m.group(2)]
    return f" next {zh_int(m.group(1))} {unit}s " if m.group(1) else f" next {unit} "


def gloss(text: str) -> str:
    """``text`` with Chinese request words and ids in the English the readers know; other text unchanged."""
    if not CJK.search(text):
        return text
    keep = [s.at for s in resolve_dates(text, date.today())]  # where the phrases sit, not their ranges, matters here
    pattern, table = _terms()
    out, pos = [], 0
    for a, b in [*keep, (len(text), len(text))]:
        part = _IDS.sub(lambda m: f" {_ID_WORD[m.group(1)]} {m.group(2)} ", text[pos:a])
        part = _TOP.sub(lambda m: f" top {zh_int(m.group(1))} ", part)
        part = _AHEAD.sub(_ahead, part)
        part = _NEXT.sub(lambda m: f" next {_UNIT[m.group(1) or '年']} ", part)
        out += [pattern.sub(lambda m: table[m.group(0)], part), text[a:b]]
        pos = b
    glossed = "".join(out).replace("？", "?").replace("，", ",").replace("。", ".")
    return re.sub(r"\s+", " ", glossed).strip()
