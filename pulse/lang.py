"""Which language a text is in, as far as Pulse cares: Chinese or not.

    >>> language_of("上个月的订单有多少?"), language_of("how many orders?"), is_chinese("iPhone 很好用")
    ('zh', 'en', True)

Every layer asks the same question (the embedder's space, the sentiment model,
the agent's answer language), so the answer lives here, at the bottom.
What it leaves out: languages other than Chinese and English; mixed texts count
by their share of CJK letters.
"""

from __future__ import annotations

import re

__all__ = ["is_chinese", "language_of", "CJK"]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_chinese(text: str, share: float = 0.3) -> bool:
    """At least ``share`` of the first 400 characters' letters are CJK ideographs."""
    head = text[:400]
    letters = sum(ch.isalpha() for ch in head)
    return letters > 0 and len(CJK.findall(head)) >= share * letters


def language_of(text: str) -> str:
    """ "zh" for a text mostly in Chinese characters, else "en"."""
    return "zh" if is_chinese(text) else "en"
