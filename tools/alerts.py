"""Public-opinion alerts: spikes in volume or negative sentiment against a rolling baseline.

For each watched series (all posts; each frequent hashtag, @mention and
catalog product; each product's reviews where reviews are dated) Pulse counts
documents per day and negative documents per day (from ``doc_sentiment``).
A day is an alert when its count is far above the previous ``WINDOW`` days:

    z = (x - median) / (1.4826 * MAD + 1)       robust z-score, trailing window only
    alert if z >= Z and x >= MIN_COUNT

The window never includes the day itself, so an alert is what a live
monitor would have raised on that day. Each alert has a stable id
(series, metric, day), so a channel can post each one once.

    >>> detect(ws, since="2016-01-01")[0]      # doctest: +SKIP
    {'id': 'posts/volume/2016-11-09', 'series': 'all posts', 'metric': 'volume', 'day': '2016-11-09', 'count': 31, ...}

What it leaves out: seasonality-aware baselines (weekday effects), alert routing (the bots do that).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from pydantic import BaseModel, Field

from .base import Maybe, ToolContext, ToolError, ToolResult, tool
from .entities import catalog_matcher, extract_markers
from .slices import doc_source

__all__ = ["detect", "daily_counts", "spikes", "alerts", "WINDOW", "Z", "MIN_COUNT"]

WINDOW = 28
Z = 4.0
MIN_COUNT = 5
TOP_ENTITIES = 20


def spikes(daily: pd.Series, window: int = WINDOW, z: float = Z, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """Days whose value is a robust outlier against the trailing window; daily is indexed by day, gaps = 0."""
    s = daily.asfreq("D", fill_value=0).astype(float)
    med = s.shift(1).rolling(window, min_periods=window // 2).median()
    mad = (s.shift(1) - med).abs().rolling(window, min_periods=window // 2).median()
    score = (s - med) / (1.4826 * mad + 1.0)
    hit = (score >= z) & (s >= min_count)
    return pd.DataFrame({"count": s[hit].astype(int), "baseline": med[hit].round(1), "z": score[hit].round(1)})


def daily_counts(ws, kind: str = "post") -> pd.DataFrame:
    """doc_id, day, text, negative flag for dated documents of a kind."""
    return ws.con.sql(
        """SELECT d.doc_id, CAST(d.created_at AS DATE) AS day, d.text, d.product_id,
                  coalesce(s.label = 'negative', false) AS negative
           FROM documents d LEFT JOIN doc_sentiment s USING (doc_id)
           WHERE d.kind = ? AND d.created_at IS NOT NULL ORDER BY day""",
        params=[kind],
    ).df()


def _series(docs: pd.DataFrame, label: str, key: str, out: list, since, until):
    if docs.empty:
        return
    day = pd.to_datetime(docs["day"])
    for metric, mask in (("volume", None), ("negative", docs["negative"].to_numpy(bool))):
        d = day if mask is None else day[mask]
        if d.empty:
            continue
        sp = spikes(d.value_counts().sort_index())
        for when, r in sp.iterrows():
            if (since and when.date() < since) or (until and when.date() >= until):
                continue
            ex = docs[(day == when) & (True if mask is None else docs["negative"])].head(3)
            out.append(
                {
                    "id": f"{key}/{metric}/{when.date()}",
                    "series": label,
                    "metric": metric,
                    "day": str(when.date()),
                    "count": int(r["count"]),
                    "baseline": float(r["baseline"]),
                    "z": float(r["z"]),
                    "examples": ex["doc_id"].astype(int).tolist(),
                }
            )


def detect(ws, since: date | None = None, until: date | None = None) -> list[dict]:
    """Every alert in the workspace's dated posts and reviews, newest first."""
    out: list[dict] = []
    match = catalog_matcher(ws)
    for kind in ("post", "review"):
        docs = daily_counts(ws, kind)
        if docs.empty:
            continue
        _series(docs, f"all {kind}s", f"{kind}s", out, since, until)
        tags = [
            (i, v)
            for i, t in zip(docs.index, docs["text"])
            for v in {m[1] for m in extract_markers(t) if m[0] in ("hashtag", "mention")} | {m[1] for m in match(t)}
        ]
        if tags:
            tag_s = pd.Series([v for _, v in tags], index=[i for i, _ in tags])
            for ent in tag_s.value_counts().head(TOP_ENTITIES).index:
                _series(
                    docs.loc[tag_s[tag_s == ent].index.unique()], f"{kind}s mentioning {ent}", f"{kind}s/{ent}", out, since, until
                )
        if kind == "review":
            for pid, part in docs.dropna(subset=["product_id"]).groupby("product_id"):
                if len(part) >= 30:
                    _series(part, f"reviews of product {pid}", f"product/{pid}", out, since, until)
    return sorted(out, key=lambda a: (a["day"], a["z"]), reverse=True)


def _series_zh(a: dict) -> str:
    """An alert's series in Chinese, read from its id (``<kind>s[/<entity>]/<metric>/<day>`` or ``product/<id>/...``)."""
    key = a["id"].rsplit("/", 2)[0]
    kind, _, rest = key.partition("/")
    if kind == "product":
        return f"商品 {rest} 的评论"
    kind_zh = {"posts": "帖子", "reviews": "评论"}.get(kind, kind)
    return f"提到 {rest} 的{kind_zh}" if rest else f"全部{kind_zh}"


class AlertsArgs(BaseModel):
    since: Maybe[date] = Field(None, description="Only alerts on or after this date (YYYY-MM-DD), if the user gave one.")
    until: Maybe[date] = Field(None, description="Only alerts before this date (YYYY-MM-DD), if the user gave one.")
    limit: int = Field(10, ge=1, le=100)


@tool(
    "alerts",
    "Detect spikes in post or review volume or in negative sentiment (overall, per hashtag, mention or product) "
    "against a rolling baseline; use for alerts, anomalies, unusual activity and sudden backlash.",
    examples=[
        "any alerts?",
        "were there spikes in negative posts?",
        "when did activity suddenly jump?",
        "show unusual spikes in mentions since 2017",
        "did anything blow up recently?",
    ],
)
def alerts(ctx: ToolContext, args: AlertsArgs) -> ToolResult:
    try:
        found = detect(ctx.ws, args.since, args.until)
    except Exception as e:  # missing tables in an old workspace
        raise ToolError(f"alerts: {e}") from e
    shown, zh = found[: args.limit], ctx.lang == "zh"
    if not shown:
        none = "该时期内数量和负面情感都没有突增。" if zh else "No spikes in volume or negative sentiment in that period."
        return ToolResult(data=[], summary=none)
    ids = [d for a in shown for d in a["examples"][:1]]
    rows = (
        {
            r["doc_id"]: r
            for r in ctx.ws.query(
                f"SELECT doc_id, kind, ref_id, product_id, customer_id, created_at, text FROM documents WHERE doc_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        }
        if ids
        else {}
    )
    sources, lines = (
        [],
        [f"共 {len(found)} 条警报；最近 {len(shown)} 条：" if zh else f"{len(found)} alerts; newest {len(shown)}:"],
    )
    for a in shown:
        cite = ""
        if a["examples"] and a["examples"][0] in rows:
            sources.append(doc_source(rows[a["examples"][0]]))
            cite = f" [{len(sources)}]"
        if zh:
            what = "条负面文档" if a["metric"] == "negative" else "条文档"
            lines.append(f"- {a['day']}：{_series_zh(a)}：{a['count']} {what}，基线为每天 {a['baseline']} 条（z {a['z']}）{cite}")
            continue
        what = "negative documents" if a["metric"] == "negative" else "documents"
        lines.append(
            f"- {a['day']}: {a['series']}: {a['count']} {what} vs a baseline of {a['baseline']} a day (z {a['z']}){cite}"
        )
    chart = {
        "type": "bar",
        "title": "Alerts: count vs baseline",
        "x": "day",
        "y": ["count", "baseline"],
        "data": [{"day": a["day"], "series": a["series"], "count": a["count"], "baseline": a["baseline"]} for a in shown],
    }
    return ToolResult(data=shown, summary="\n".join(lines), sources=sources, chart=chart)
