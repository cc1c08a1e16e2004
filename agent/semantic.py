"""A small semantic layer: aggregate questions of a known shape answered with SQL written by code.

A question is read as a metric ("revenue", "average rating", "share of posts
that are retweets"), optional dimensions ("per month", "by category", "which
customer") with a ranking ("top 5", "most", "fewest"), and filters (a date
range, a star rating, a product, a customer, a catalog category). That spec
compiles to one DuckDB SELECT over the documented tables, which the
``sql_query`` tool then runs under its usual checks.

    >>> from datetime import date
    >>> q = parse("how many orders were placed in May 1997?", date(1998, 7, 1))
    >>> q.sql()
    "SELECT count(*) AS orders FROM orders WHERE order_date >= DATE '1997-05-01' AND order_date < DATE '1997-06-01'"
    >>> parse("top 3 customers by revenue", date(1998, 7, 1)).sql()
    'SELECT customer_id, round(sum(total), 2) AS revenue FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 3'

A question that does not fit (a condition such as "more than 5 orders", a join
the layer does not know) returns None: the generator writes the SQL then.
What it leaves out: conditions on aggregates, ratios of two metrics, other languages.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date

from .dates import resolve_dates, without_dates
from .slots import ids_in

__all__ = ["Query", "parse", "METRICS", "metric_named"]


@dataclass(frozen=True)
class Metric:
    name: str
    table: str
    expr: str
    label: str
    unit: str = ""  # "$" or "%"
    where: str = ""  # a filter the metric implies (reposts only)

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH.get(self.name, self.label)


#: (metric, pattern): the first that matches wins, so specific ones come first.
METRICS: list[tuple[Metric, str]] = [
    (
        Metric(
            "share_reposts",
            "posts",
            "round(100.0 * avg(CASE WHEN is_repost THEN 1 ELSE 0 END), 1)",
            "share of posts that are reposts",
            "%",
        ),
        r"(?:share|percent|percentage|fraction|proportion|%)\b.*\b(?:re-?tweets?|re-?posts?)|(?:re-?tweets?|re-?posts?).*\b(?:share|percent|fraction|proportion)",
    ),
    (
        Metric(
            "share_recommended",
            "reviews",
            "round(100.0 * avg(CASE WHEN recommended THEN 1 ELSE 0 END), 1)",
            "share of reviewers who recommend the item",
            "%",
        ),
        r"\brecommend",
    ),
    (
        Metric(
            "share_negative_reviews",
            "reviews",
            "round(100.0 * avg(CASE WHEN rating <= 2 THEN 1 ELSE 0 END), 1)",
            "share of reviews with 1 or 2 stars",
            "%",
        ),
        r"(?:share|percent|percentage|fraction|proportion)\b.*\b(?:low|bad|1 or 2|one or two)[- ]star",
    ),
    (
        Metric("avg_items", "orders", "round(avg(n_items), 2)", "average items per order"),
        r"(?:average|avg|mean)\s+(?:number of\s+)?items per order|basket size|items per order",
    ),
    (Metric("median_order_value", "orders", "round(median(total), 2)", "median order value", "$"), r"\bmedian order"),
    (
        Metric("avg_order_value", "orders", "round(avg(total), 2)", "average order value", "$"),
        r"(?:average|avg|mean)\s+(?:order|basket)\s*(?:value|total|amount|size)?|\baov\b|average (?:spend|amount) per order",
    ),
    (
        Metric("revenue", "orders", "round(sum(total), 2)", "revenue", "$"),
        r"\brevenue|\bsales\b|\bturnover|\bincome\b|\btotal spend|\bspent\b|\border totals|\bearn",
    ),
    (Metric("items", "orders", "sum(n_items)", "items sold"), r"\bitems?\s+(?:were\s+)?sold|\bunits\b|\bhow many items\b"),
    (
        Metric("customers", "orders", "count(DISTINCT customer_id)", "customers"),
        r"\b(?:how many|number of|count of)\s+(?:distinct\s+|unique\s+|different\s+)?(?:customers|clients|buyers|shoppers)",
    ),
    (Metric("orders", "orders", "count(*)", "orders"), r"\borders?\b|\bpurchases\b"),
    (
        Metric("avg_rating", "reviews", "round(avg(rating), 2)", "average rating"),
        r"(?:average|avg|mean)\s+(?:review\s+|star\s+)?rating",
    ),
    (Metric("reviewer_age", "reviews", "round(avg(age), 1)", "average reviewer age"), r"(?:average|avg|mean)\s+age"),
    (Metric("reviews", "reviews", "count(*)", "reviews"), r"\breviews?\b"),
    (Metric("likes", "posts", "sum(likes)", "likes"), r"\blikes\b"),
    (
        Metric("reposts", "posts", "count(*)", "reposts", where="is_repost"),
        r"\b(?:re-?tweets|re-?posts)\b|\bwere (?:re-?tweets|re-?posts)",
    ),
    (Metric("posts", "posts", "count(*)", "posts"), r"\bposts?\b|\btweets?\b"),
]


#: each metric's label in Chinese, for answers to Chinese questions
_LABELS_ZH = {
    "share_reposts": "转发帖占比",
    "share_recommended": "推荐该商品的评论者占比",
    "share_negative_reviews": "1-2星评论占比",
    "avg_items": "平均每单件数",
    "median_order_value": "订单金额中位数",
    "avg_order_value": "平均订单金额",
    "revenue": "销售额",
    "items": "售出件数",
    "customers": "客户数",
    "orders": "订单数",
    "avg_rating": "平均评分",
    "reviewer_age": "评论者平均年龄",
    "reviews": "评论数",
    "likes": "点赞数",
    "reposts": "转发数",
    "posts": "帖子数",
}


def metric_named(name: str | None) -> Metric | None:
    return next((m for m, _ in METRICS if m.name == name), None)


_DATE_COL = {"orders": "order_date", "reviews": "created_at", "posts": "created_at"}

#: time grains: (name, SQL of the column, pattern)
_GRAINS = [
    ("weekday", "dayname({c})", r"day of (?:the )?week|weekday"),
    ("month", "strftime(date_trunc('month', {c}), '%Y-%m')", r"\bmonth(?:s|ly)?\b"),
    ("quarter", "year({c}) || '-Q' || quarter({c})", r"\bquarter(?:s|ly)?\b"),
    ("week", "date_trunc('week', {c})::DATE", r"\bweek(?:s|ly)?\b"),
    ("year", "year({c})", r"\byear(?:s|ly)?\b|\bannual"),
    ("day", "CAST({c} AS DATE)", r"\bdays?\b|\bdaily\b"),
]
#: other dimensions per table: (name, column, pattern)
_DIMS = {
    "orders": [("customer_id", "customer_id", r"\bcustomers?\b|\bclients?\b|\bbuyers?\b"), ("status", "status", r"\bstatus")],
    "reviews": [
        ("rating", "rating", r"\bstar(?:s| rating)?\b|\brating\b"),
        ("category", "p.category", r"\bcategor"),
        ("department", "p.department", r"\bdepartment"),
        ("division", "p.division", r"\bdivision"),
        ("product_id", "product_id", r"\bproducts?\b|\bitems?\b"),
    ],
    "posts": [("author", "author", r"\bauthors?\b|\baccounts?\b|\bwho\b"), ("source", "source", r"\bsources?\b|\bapps?\b")],
}

_GROUP_CUE = r"\b(?:monthly|weekly|daily|yearly|quarterly|annual|per|by|each|every|which|what|top|most|least|highest|lowest|busiest|quietest|best|worst|biggest|largest|fewest)\b"
_DESC = r"\b(?:most|highest|best|busiest|biggest|largest|top|max(?:imum)?|more)\b"
_ASC = r"\b(?:least|lowest|fewest|worst|quietest|slowest|smallest|min(?:imum)?)\b"
#: shapes this layer does not know: the generator writes the SQL for these
_UNKNOWN = re.compile(
    r"\b(?:more|fewer|less|greater)\s+than\b|\bat (?:least|most)\s+\d|\bover \d|\bunder \d|\bbetween\b|"
    r"\bwithout\b|\bnever\b|\bonly once\b|\bcontain|\bratio\b|\bgrowth\b|\bcorrelat|\brepeat\b|\breturning\b|"
    r"\bper customer\b|\bper user\b|\bstandard deviation\b|\bpercentile\b|\bmention|\bwords?\b",
    re.I,
)


#: a date range in words, per language: (both ends, the start only, the end only)
_RANGE = {
    "en": ("from {s} to {u} (end exclusive)", "from {s}", "before {u}"),
    "zh": ("{s} 至 {u}(不含)", "{s} 起", "{u} 前"),
}


@dataclass(frozen=True)
class Query:
    metric: Metric
    grain: str | None = None  # a time grain
    dim: tuple[str, str] | None = None  # (name, column)
    since: date | None = None
    until: date | None = None
    period: str | None = None  # the date phrase the user wrote
    rating: int | None = None
    product_id: str | None = None
    customer_id: str | None = None
    category: str | None = None
    order: str | None = None  # "DESC" / "ASC" for rankings
    limit: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> str:
        return self.metric.table

    def to_dict(self) -> dict:
        """Plain data for a turn's record (the conversation checkpoint); :meth:`from_dict` reads it back."""
        d = asdict(self)
        d["metric"] = self.metric.name
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Query | None":
        metric = metric_named((d or {}).get("metric"))
        if metric is None:
            return None
        fields = {k: v for k, v in (d or {}).items() if k != "metric"}
        for k in ("since", "until"):
            if isinstance(fields.get(k), str):
                fields[k] = date.fromisoformat(fields[k])
        if isinstance(fields.get("dim"), list):
            fields["dim"] = tuple(fields["dim"])
        return cls(metric, **fields)

    def _where(self) -> list[str]:
        w, c = [], _DATE_COL.get(self.table)
        if self.metric.where:
            w.append(self.metric.where)
        if self.since and c:
            w.append(f"{self._col(c)} >= DATE '{self.since.isoformat()}'")
        if self.until and c:
            w.append(f"{self._col(c)} < DATE '{self.until.isoformat()}'")
        if self.rating is not None and self.table == "reviews":
            w.append(f"rating = {int(self.rating)}")
        if self.product_id and self.table == "reviews":
            w.append(f"{self._col('product_id')} = '{_lit(self.product_id)}'")
        if self.customer_id and self.table in ("orders", "reviews"):
            w.append(f"{self._col('customer_id')} = '{_lit(self.customer_id)}'")
        if self.category and self.table == "reviews":
            w.append(f"p.category = '{_lit(self.category)}'")
        return w

    def _joined(self) -> bool:
        return self.table == "reviews" and (self.category is not None or (self.dim is not None and self.dim[1].startswith("p.")))

    def _col(self, c: str) -> str:
        return f"r.{c}" if self._joined() else c

    def sql(self) -> str:
        m = self.metric
        frm = "reviews r LEFT JOIN products p ON p.product_id = r.product_id" if self._joined() else m.table
        sel, group = [], None
        if self.grain:
            sel.append(
                dict((g, e) for g, e, _ in _GRAINS)[self.grain].format(c=self._col(_DATE_COL[m.table])) + f" AS {self.grain}"
            )
        elif self.dim:
            col = self.dim[1] if self.dim[1].startswith("p.") else self._col(self.dim[1])
            sel.append(f"{col} AS {self.dim[0]}" if col != self.dim[0] else col)
        if sel:
            group = "GROUP BY 1"
        sel.append(f"{m.expr} AS {m.name}")
        sql = f"SELECT {', '.join(sel)} FROM {frm}"
        if w := self._where():
            sql += " WHERE " + " AND ".join(w)
        if group:
            sql += f" {group}"
            sql += f" ORDER BY 2 {self.order}" if self.order else " ORDER BY 1"
            if self.limit:
                sql += f" LIMIT {self.limit}"
        return sql

    def describe(self, lang: str = "en") -> str:
        """The spec in words: what the figure counts (shown with the answer), in English or Chinese ("zh")."""
        if lang == "zh":
            return self._describe_zh()
        parts = [self.metric.label]
        if self.category:
            parts.append(f"for {self.category}")
        if self.product_id:
            parts.append(f"for product {self.product_id}")
        if self.customer_id:
            parts.append(f"for customer {self.customer_id}")
        if self.rating is not None:
            parts.append(f"with {self.rating}-star ratings")
        if rng := self._range("en"):
            parts.append(f"in {self.period} ({rng})" if self.period else rng)
        return " ".join(parts)

    def _range(self, lang: str) -> str:
        """The date range in words ("" without one): both ends, only the start, or only the end."""
        if not (self.since or self.until):
            return ""
        both, start, end = _RANGE[lang]
        return (both if self.since and self.until else start if self.since else end).format(s=self.since, u=self.until)

    def _describe_zh(self) -> str:
        parts = []
        if rng := self._range("zh"):
            parts.append(f"{self.period}({rng})" if self.period else rng)
        for v, fmt in ((self.category, "{}类"), (self.product_id, "商品 {}"), (self.customer_id, "客户 {}")):
            if v:
                parts.append(fmt.format(v))
        if self.rating is not None:
            parts.append(f"{self.rating}星")
        return "".join(p + "的" for p in parts) + self.metric.label_zh


def _lit(v: str) -> str:
    return str(v).replace("'", "''")


def parse(text: str, today: date, categories: list[str] | None = None, prev: Query | None = None) -> Query | None:
    """The question as a :class:`Query`, or None when it is not a shape this layer knows.

    With ``prev`` (the last turn's query), what the message does not say is kept: "and in February?" swaps the dates.
    """
    t = text.lower()
    if _UNKNOWN.search(t):
        return None
    metric = next((m for m, pat in METRICS if re.search(pat, t)), None)
    if metric is None and prev is None:
        return None
    if metric is None or (prev is not None and metric == prev.metric):
        assert prev is not None  # metric is None only with a previous query (checked above)
        q = prev
    elif prev is not None and metric.table == prev.metric.table:
        q = replace(prev, metric=metric)
    else:
        q = Query(metric)
    # dates: a new phrase replaces the old range
    spans = resolve_dates(text, today)
    if spans:
        q = replace(q, since=spans[0].start, until=spans[0].end, period=spans[0].phrase)
    if m := re.search(r"\b([1-5])[- ]?stars?\b|\brating of ([1-5])\b|\b(one|two|three|four|five)[- ]stars?\b", t):
        v = m.group(1) or m.group(2) or {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}[m.group(3)]
        if q.table == "reviews":
            q = replace(q, rating=int(v))
    ids = ids_in(text)
    if ids.get("product_id"):
        q = replace(q, product_id=ids["product_id"])
    if ids.get("customer_id"):
        q = replace(q, customer_id=ids["customer_id"])
    for c in categories or []:
        if q.table == "reviews" and re.search(rf"\b{re.escape(c.lower().rstrip('s'))}s?\b", t):
            q = replace(q, category=c)
            break
    # dimensions and rankings: only where a grouping cue stands in the text
    stripped = without_dates(text, spans).lower()
    if re.search(_GROUP_CUE, stripped):
        grain = next((g for g, _, pat in _GRAINS if _cued(pat, stripped)), None)
        dim = None
        if not grain:
            dim = next(
                ((n, c) for n, c, pat in _DIMS.get(q.table, []) if _cued(pat, _without_metric_words(stripped, q.metric))), None
            )
        if grain and q.table in _DATE_COL:
            q = replace(q, grain=grain, dim=None)
        elif dim:
            q = replace(q, dim=dim, grain=None)
        if q.grain or q.dim:
            order = "ASC" if re.search(_ASC, stripped) else "DESC" if re.search(_DESC, stripped) else None
            top = re.search(r"\btop\s+(\d{1,3})\b|\b(\d{1,2})\s+(?:best|biggest|largest|busiest|most)\b", stripped)
            limit = (
                int(top.group(1) or top.group(2))
                if top
                else (
                    1 if order and re.search(r"\bwhich\b|\bwhat\b|\bthe (?:most|least|busiest|best|worst)\b", stripped) else None
                )
            )
            if q.dim and not order and not q.grain:
                order = "DESC"
            q = replace(
                q, order=order, limit=limit or (10 if q.dim and q.dim[0] in ("customer_id", "product_id", "author") else None)
            )
    elif prev is None and re.search(r"\b(?:per|by)\s+\w+", stripped):
        return None  # a grouping this layer does not know
    if q.table == "orders" and q.category:
        return None
    return q


def _cued(pat: str, t: str) -> bool:
    """``pat`` names a grouping: a cue word stands at most three words before it ("which month", "top 5
    customers", "per star rating"), or it is a time word in the "monthly" / "month by month" form."""
    for m in re.finditer(pat, t):
        before = " ".join(t[: m.start()].split()[-3:])
        if (
            re.search(_GROUP_CUE, before)
            or re.search(r"\b(?:monthly|weekly|daily|yearly|quarterly|annual)", m.group(0))
            or re.match(r"\s+(?:by|over|with the (?:most|fewest|least|highest|lowest))\b", t[m.end() :])
        ):
            return True
    return False


def _without_metric_words(t: str, metric: Metric) -> str:
    """The text minus the metric's own words, so "reviews per star rating" does not group reviews by product."""
    return re.sub(next(p for m, p in METRICS if m is metric), " ", t)
