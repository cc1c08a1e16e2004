"""The words of a text, for counting: English word tokens, Chinese words by jieba, Weibo-style #话题# tags.

Topic labels (c-TF-IDF), review aspects and entity matching count words. An
English text splits on letters; a Chinese one has no spaces, so jieba (MIT, its
dictionary inside the wheel) segments it, and words of one character or on the
stop list are dropped. A Weibo hashtag (``#双十一#``, closed by a second ``#``)
is one word.

    >>> words("质量很好，物流也快 #双十一# 推荐购买")
    ['#双十一#', '质量', '物流', '推荐', '购买']
    >>> words("The fabric is soft and the colour is lovely")
    ['fabric', 'soft', 'colour', 'lovely']

:func:`tokens` keeps every word (for matching names, not counting), and
:func:`chinese_names` reads names from jieba's part-of-speech tags (person,
place, organisation) and book or film titles from their 《》 marks.

What it leaves out: jieba's user dictionaries; languages other than English and Chinese.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from pulse.lang import CJK, is_chinese

__all__ = ["words", "tokens", "chinese_words", "chinese_names", "WEIBO_TAG", "STOP_ZH"]

WEIBO_TAG = re.compile(r"#([^#\s]{1,30})#")
_EN = re.compile(r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b")
#: common Chinese function words and fillers that never make a topic or an aspect
STOP_ZH = set(
    "的 了 是 我 也 很 都 就 在 和 有 不 这 那 个 还 说 没有 一个 我们 你们 他们 她们 它们 自己 什么 这个 那个 这样 "
    "那样 因为 所以 但是 可是 而且 如果 就是 还是 或者 非常 比较 觉得 感觉 可以 已经 一下 一些 一点 没 吗 呢 吧 啊 "
    "哦 呀 嗯 让 给 对 把 被 从 到 与 及 等 又 再 才 只 更 最 太 挺 真 好 会 能 要 想 去 来 上 下 里 中 后 前 时候 "
    "然后 其实 虽然 不过 而 并 且 之 其 此 该 每 各 些 啦 呗 哈 嘛 么 着 过 得 地 以 为 于 向 跟 同 比 用 做 看 "
    "知道 出来 起来 一样 这么 那么 怎么 真的 不错 东西 问题 一般 总体 总的来说 还有 以后 之后 以前 现在".split()
)
_EN_STOP: frozenset[str] | None = None


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading banner is not the user's business
    return jieba


def chinese_words(text: str) -> list[str]:
    """jieba's words of a Chinese text: two characters or more, CJK, not on the stop list."""
    return [w for w in _jieba().lcut(text) if len(w) >= 2 and CJK.match(w) and w not in STOP_ZH]


def _en_stop() -> frozenset[str]:
    global _EN_STOP
    if _EN_STOP is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        _EN_STOP = frozenset(ENGLISH_STOP_WORDS)
    return _EN_STOP


def words(text: str, extra_stop: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The countable words of ``text``, lower-cased English or jieba-segmented Chinese; Weibo tags first."""
    tags = [f"#{m}#" for m in WEIBO_TAG.findall(text)]
    rest = WEIBO_TAG.sub(" ", text)
    if is_chinese(rest):
        body = chinese_words(rest) + [w.lower() for w in _EN.findall(rest)]
    else:
        body = [w.lower() for w in _EN.findall(rest)]
    stop = _en_stop() | extra_stop
    return tags + [w for w in body if w not in stop]


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    """Every word of ``text``, lower-cased, punctuation dropped: English and number tokens, jieba's Chinese words.

    >>> tokens("Toy Story (1995)"), tokens("小米手机很好用")
    (['toy', 'story', '1995'], ['小米', '手机', '很', '好', '用'])
    """
    t = (text or "").lower()
    if not CJK.search(t):
        return _TOKEN.findall(t)
    return [w for w in _jieba().lcut(t) if CJK.match(w) or _TOKEN.fullmatch(w)]


_TITLE = re.compile(r"《([^《》]{1,30})》")
#: jieba's part-of-speech tags of names, as spaCy's entity labels
_NAME_TAGS = {"nr": "PERSON", "nrfg": "PERSON", "nrt": "PERSON", "ns": "GPE", "nt": "ORG"}


#: a dictionary word tagged a person's name but this frequent in jieba's dictionary is an ordinary word far more
#: often (陈旧 "old", 安静 "quiet", 宝宝 "baby" carry the tag); names jieba found by its HMM have no frequency at all
_NAME_MAX_FREQ = 100


def chinese_names(text: str) -> list[tuple[str, str]]:
    """(label, name) for the names in a Chinese text: titles in 《》 (WORK_OF_ART), then jieba's tagged names.

    Person names that are frequent dictionary words and words on the stop list are left out.

    >>> chinese_names("在成都出差,读了《围城》")
    [('WORK_OF_ART', '《围城》'), ('GPE', '成都')]
    """
    import jieba.posseg

    jb = _jieba()  # quiet logging before the tagger loads its dictionary
    jb.initialize()
    freq = jb.dt.FREQ
    out = [("WORK_OF_ART", f"《{m}》") for m in _TITLE.findall(text)]
    for p in jieba.posseg.lcut(_TITLE.sub(" ", text[:2000])):
        label = _NAME_TAGS.get(p.flag)
        if not label or len(p.word) < 2 or p.word in STOP_ZH:
            continue
        if label == "PERSON" and (freq.get(p.word) or 0) >= _NAME_MAX_FREQ:
            continue
        out.append((label, p.word))
    return out
