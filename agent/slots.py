"""Arguments read from the message by code: ids, kinds, dates, metrics, horizons, frequencies, subjects.

Once the tool is known, most of its arguments are written in the message in a
form code can read exactly. :func:`fill` returns the arguments it could read
and the required ones it could not (the generator fills only those, with the
tool fixed). An argument the user never gave is never made up.

    >>> from datetime import date
    >>> fill("forecast", "project weekly orders over the next 8 weeks", date(1998, 7, 1)).args
    {'metric': 'orders', 'horizon': 'next 8 weeks', 'freq': 'W'}
    >>> fill("shop_lookup", "how much has customer #42 spent?", date(1998, 7, 1)).args
    {'entity': 'customer', 'id': '42'}
    >>> fill("sentiment", "how do people feel about the linen shirts in reviews?", date(1998, 7, 1)).args
    {'kind': 'review', 'query': 'linen shirts'}
    >>> subject_of("关于散热的 reviews sentiment 怎么样?")        # a glossed Chinese question keeps its subject
    '散热'

What it leaves out: SQL (``agent/semantic.py`` handles the known shapes), and
languages other than English and (glossed, ``agent/lang.py``) Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pulse.lang import CJK
from tools.forecast import NUMBER_WORDS
from tools.words import chinese_words

from .dates import resolve_dates, without_dates

__all__ = ["Filled", "fill", "ids_in", "subject_of", "kind_of", "quoted_text"]

_ID = r"#?\s*([A-Za-z]{0,4}-?\d[\w-]*)"
_CUSTOMER = re.compile(r"\b(?:customer|client|shopper|buyer)s?\s*(?:id|number|no\.?)?\s*" + _ID, re.I)
_USER = re.compile(r"\buser\s*(?:id|number|no\.?)?\s*" + _ID, re.I)
_PRODUCT = re.compile(r"\b(?:product|item|article|sku)s?\s*(?:id|number|no\.?)?\s*" + _ID, re.I)
_ML = re.compile(r"\b(ml-\d+)\b", re.I)
_ORDER = re.compile(r"\b(\d+-\d{8}-\d+)\b|\border\s*(?:id|number|no\.?)?\s*#?\s*(\d[\w-]*)", re.I)
_REVIEW = re.compile(r"\b(wcr-\d+)\b|\breview\s*(?:id|number|no\.?)?\s*#?\s*([A-Za-z]{0,4}-?\d[\w-]*)", re.I)
_POST = re.compile(r"\b(tw-\d+)\b|\b(?:post|tweet)\s*(?:id|number|no\.?)?\s*#?\s*([A-Za-z]{0,4}-?\d[\w-]*)", re.I)
#: a Chinese request that gives its text after a colon: "这句话是好评还是差评:房间又小又脏"
_QUOTED_ZH = re.compile(
    r"^[^:：]{0,30}(?:句|话|文字|内容|评论|帖子|微博|reviews?|posts?|sentiment)[^:：]{0,12}[:：]\s*(.{3,})$", re.I
)
_QUOTED = re.compile(r"[\"“](.{3,}?)[\"”]|(?<![A-Za-z])'(.{3,}?)'(?![A-Za-z])")

_HORIZON = re.compile(
    r"\b(?:next|coming|following|upcoming)\s+(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve)?"
    r"\s*(day|week|month|quarter|year)s?\b",
    re.I,
)
_FREQ = [
    ("D", r"\bdaily\b|\bper day\b|\beach day\b|\bday by day\b|\bby day\b"),
    ("M", r"\bmonthly\b|\bper month\b|\beach month\b|\bmonth by month\b|\bby month\b"),
    ("W", r"\bweekly\b|\bper week\b|\beach week\b|\bweek by week\b|\bby week\b"),
]
_METRIC = [
    ("units", r"\bunits?\b|\bitems? sold\b|\bquantit|\bitems? (?:will|we)\b|\bhow many items\b"),
    ("orders", r"\borders?\b|\bpurchases\b|\bdemand\b"),
    ("revenue", r"\brevenue|\bsales\b|\bturnover|\bmoney\b|\bincome\b|\bearn"),
]

#: Words that frame a request rather than name its subject (what is left is the subject).
_FRAME = set(
    """
a an the of in on at to for from by with about regarding around across over into and or vs versus than
what whats what's which who whom how why when where is are was were be been do does did done doing have has had
can could should would will shall may might must me my our we us you your i i'm it its it's this that these those
there their they them any some all every each much many more most less least very really just so also only
tell show give find list get see look search summarize summarise describe explain analyse analyze break down
say says said saying think thinks feel feels felt talking talk talks write writes wrote writing mention mentions
people customers customer shoppers shopper buyers reviewers users folks everyone someone
review reviews post posts tweet tweets comment comments feedback text texts documents social media
sentiment mood tone positive negative emotion emotional feeling feelings happy upset overall favourable
topic topics theme themes subject subjects cluster clusters group grouped discussion discussions conversations
trend trends trending change changed changing over time lately recently currently now
main big key top common recurring mostly
like likes love loves dislike dislikes complain complaint complaints praise issues opinion opinions
good bad or not generally kind kinds things thing stuff share shares proportion percentage percent fraction ratio portion
week weekly month monthly day daily year yearly quarter per
come comes coming came up appear appears appearing raise raised dominate dominates discussed discuss
""".split()
)


#: Chinese words left after the gloss that frame a request (who, how, which aspect of opinion), never its subject
_FRAME_ZH = set(
    """
关于 有关 对于 大家 人们 别人 用户 顾客 客户 买家 网友 怎么样 怎样 如何 怎么看 看法 觉得 认为 评价 评论 帖子 微博 文章
正面 负面 中性 正向 负向 积极 消极 情绪 情感 态度 口碑 好评 差评 满意 不满 话题 主题 讨论 提到 提及 说到 谈到 聊 分析 一下
告诉 显示 看看 列出 总结 哪些 哪个 什么 多少 趋势 变化 走势 最近 近期 整体 总体 整体上 方面 内容 情况 分布 统计 其中 里面 之中
为什么 是否 还是 或者 以及 每个 所有 全部 这些 那些 主要 常见 经常 最常 提到的 哪里 地方 人名 品牌 实体
""".split()
)


@dataclass
class Filled:
    args: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # required arguments code could not read


def _first(pattern: re.Pattern, text: str) -> str | None:
    m = pattern.search(text)
    if not m:
        return None
    v = next(g for g in m.groups() if g)
    return re.sub(r"'s$", "", v).rstrip(".,;:?!")


def ids_in(text: str) -> dict:
    """Every id the message names, by what it is."""
    out = {}
    for key, pat in (
        ("customer_id", _CUSTOMER),
        ("user_id", _USER),
        ("product_id", _PRODUCT),
        ("order_id", _ORDER),
        ("review_id", _REVIEW),
        ("post_id", _POST),
    ):
        v = _first(pat, text)
        if v and any(c.isdigit() for c in v):
            out[key] = v
    ml = _ML.findall(text)
    if ml and "user_id" not in out:
        out["item_id"] = ml[0]
    elif len(ml) > 1:
        out["item_id"] = next(m for m in ml if m != out.get("user_id"))
    return out


def kind_of(text: str) -> str | None:
    t = text.lower()
    review = re.search(r"\breview|\breviewer|\bratings? and reviews", t)
    post = re.search(r"\bposts?\b|\btweet|\bsocial\b|\bretweet|\bon twitter", t)
    if review and not post:
        return "review"
    if post and not review:
        return "post"
    return None


def quoted_text(text: str) -> str | None:
    m = _QUOTED.search(text)
    if m:
        return next(g for g in m.groups() if g)
    m = re.search(r"(?:text|tweet|review|sentence|message|this)\s*:\s*(.{3,})$", text.strip(), re.I) or (
        _QUOTED_ZH.search(text.strip()) if CJK.search(text) else None
    )
    return m.group(1).strip().strip("\"'“”") if m else None


def subject_of(text: str, today: date | None = None) -> str | None:
    """The subject phrase of a slice or search: the message without ids, dates, quotes and framing words."""
    t = _QUOTED.sub(" ", without_dates(text, resolve_dates(text, today or date.today())))
    for pat in (_CUSTOMER, _USER, _PRODUCT, _ORDER, _REVIEW, _POST, _ML):
        t = pat.sub(" ", t)
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", t)
    kept = [
        w
        for w in words
        if w.lower().replace("’", "'") not in _FRAME
        and not w.lower().endswith("'s")
        or w.lower().endswith("'s")
        and w.lower()[:-2] not in _FRAME
    ]
    kept = [re.sub(r"'s$", "", w) for w in kept]
    if CJK.search(t):  # a Chinese subject: jieba's words, less the framing ones ("关于散热的评论" -> 散热)
        kept += [w for w in chinese_words(t) if w not in _FRAME_ZH]
    return " ".join(kept) if kept else None


def _dates(text: str, today: date) -> dict:
    spans = resolve_dates(text, today)
    if not spans:
        return {}
    return {"since": spans[0].start.isoformat(), "until": spans[0].end.isoformat()}


def _horizon(text: str) -> str | None:
    m = _HORIZON.search(text)
    if m:
        return re.sub(r"\s+", " ", m.group(0).lower())
    m = re.search(r"\brest of the year\b|\bthe coming (?:days|weeks|months)\b", text, re.I)
    return m.group(0).lower() if m and "rest" not in m.group(0).lower() else ("next quarter" if m else None)


def _freq(text: str, horizon: str | None) -> str | None:
    for code, pat in _FREQ:
        if re.search(pat, text, re.I):
            return code
    if horizon:
        unit = re.search(r"(day|week|month|quarter|year)", horizon)
        n = re.search(r"\d+", horizon)
        if unit and unit.group(1) == "day":
            return "D"
        if unit and unit.group(1) in ("year",) or unit and unit.group(1) == "month" and n and int(n.group()) >= 3:
            return "M"
    return None


def _metric(text: str) -> str | None:
    for name, pat in _METRIC:
        if re.search(pat, text, re.I):
            return name
    return None


def _by(text: str) -> str | None:
    t = text.lower()
    for by in ("day", "week", "month"):
        if re.search(
            rf"\b{by} by {by}\b|\bper {by}\b|\bby {by}\b|\beach {by}\b|\b{by}ly\b|\bover the {by}s\b".replace("dayly", "daily"), t
        ):
            return by
    if re.search(r"\bover time\b|\btrend|\bchang", t):
        return "month"
    if re.search(r"\bper product\b|\bby product\b|\bwhich products?\b", t):
        return "product"
    if re.search(r"\bper customer\b|\bby customer\b", t):
        return "customer"
    return None


def fill(tool: str, text: str, today: date) -> Filled:
    """The arguments of ``tool`` that ``text`` states, and the required ones it does not."""
    ids = ids_in(text)
    f = Filled()
    a = f.args
    if tool == "search_corpus":
        a["query"] = text.strip()
        if k := kind_of(text):
            a["kind"] = k
        if "product_id" in ids:
            a["product_id"] = ids["product_id"]
        a.update(_dates(text, today))
    elif tool in ("sentiment", "topics", "entities"):
        if tool == "sentiment" and (q := quoted_text(text)):
            return Filled({"text": q})
        if k := kind_of(text):
            a["kind"] = k
        if s := subject_of(text, today):
            a["query"] = s
        if "product_id" in ids:
            a["product_id"] = ids["product_id"]
        a.update(_dates(text, today))
        if tool == "sentiment" and (by := _by(text)):
            a["by"] = by
        if tool == "topics" and (m := re.search(r"\b(\d{1,2})\s+(?:topics|themes|clusters|groups)\b", text, re.I)):
            a["n_topics"] = int(m.group(1))
        if tool == "entities":
            types = [
                t
                for t, pat in (
                    ("hashtag", r"hashtag"),
                    ("mention", r"@|mention|accounts?|tagged"),
                    ("url", r"\blinks?\b|\burls?\b"),
                    ("cashtag", r"cashtag"),
                    ("person", r"\bpeople\b|\bpersons?\b|\bnames?\b"),
                    ("gpe", r"\bplaces?\b|\bcit(?:y|ies)\b|\bcountr"),
                    ("org", r"\borgani[sz]ations?\b|\bbrands?\b|\bcompan"),
                    ("product", r"\bproducts?\b"),
                )
                if re.search(pat, text, re.I)
            ]
            if types:
                a["types"] = types
            a.pop("query", None)
            if s := _entity_subject(text):
                a["query"] = s
    elif tool == "shop_lookup":
        if "customer_id" in ids:
            a["entity"] = (
                "orders"
                if re.search(r"\b(?:list|show|history|orders of|what did .* order|which orders)\b", text, re.I)
                and not re.search(r"\bhow many\b|\bcount\b|\bnumber\b", text, re.I)
                else "customer"
            )
            a["id"] = ids["customer_id"]
        elif "user_id" in ids:
            a["entity"], a["id"] = "customer", ids["user_id"]
        elif "product_id" in ids:
            a["entity"], a["id"] = "product", ids["product_id"]
        else:
            f.missing += ["entity", "id"]
    elif tool == "recommend":
        if "user_id" in ids:
            a["user_id"] = ids["user_id"]
        elif "customer_id" in ids:
            a["user_id"] = ids["customer_id"]
        elif "item_id" in ids:
            a["item_id"] = ids["item_id"]
        elif "product_id" in ids:
            a["item_id"] = ids["product_id"]
        else:
            f.missing.append("user_id")
        if m := re.search(
            r"\b(\d{1,2}|five|ten|three)\s+(?:movies|films|items|products|picks|recommendations|suggestions)\b", text, re.I
        ):
            a["k"] = int(NUMBER_WORDS.get(m.group(1).lower(), m.group(1)))
        elif m := re.search(r"\btop\s+(\d{1,2})\b", text, re.I):
            a["k"] = int(m.group(1))
    elif tool == "forecast":
        if metric := _metric(text):
            a["metric"] = metric
        if h := _horizon(text):
            a["horizon"] = h
        if fq := _freq(text, h):
            a["freq"] = fq
        if "product_id" in ids:
            a["product_id"] = ids["product_id"]
    elif tool == "customer_profile":
        cid = ids.get("customer_id") or ids.get("user_id")
        if cid:
            a["customer_id"] = cid
        else:
            f.missing.append("customer_id")
    elif tool == "review_analysis":
        if "product_id" in ids:
            a["product_id"] = ids["product_id"]
        else:
            f.missing.append("product_id")
    elif tool == "alerts":
        a.update(_dates(text, today))
    elif tool == "draft_reply":
        if "review_id" in ids:
            a["kind"], a["id"] = "review", ids["review_id"]
        elif "post_id" in ids:
            a["kind"], a["id"] = "post", ids["post_id"]
        else:
            f.missing.append("id")
        if "order_id" in ids:
            a["order_id"] = ids["order_id"]
    elif tool == "sql_query":
        f.missing.append("sql")
    # the support persona's tools
    elif tool == "my_orders":
        if "order_id" in ids:
            a["order_id"] = ids["order_id"]
    elif tool in ("product_reviews", "shop_policy"):
        a["question"] = text.strip()
        if tool == "product_reviews" and "product_id" in ids:
            a["product"] = ids["product_id"]
    elif tool == "my_recommendations":
        pass
    elif tool == "order_action":
        act = re.search(r"\b(cancel|return|send (?:it )?back|refund)", text, re.I)
        if act:
            a["action"] = "cancel" if act.group(1).lower() == "cancel" else "return"
        else:
            f.missing.append("action")
        if "order_id" in ids:
            a["order_id"] = ids["order_id"]
        else:
            f.missing.append("order_id")
    elif tool == "handoff":
        a["reason"] = text.strip()[:200]
    else:
        f.missing.append("*")  # a tool this file does not know: the generator fills everything
    return f


def _entity_subject(text: str) -> str | None:
    m = re.search(r"\b(?:about|regarding|on)\s+(?:the\s+)?([A-Za-z][\w\s-]{2,40}?)(?:\?|$|\bin\b|\bduring\b)", text, re.I)
    return m.group(1).strip() if m else None
