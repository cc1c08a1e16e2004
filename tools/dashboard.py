"""The dashboard snapshot: computed when data or models change, stored in the workspace, opened at once.

What the dashboard shows (KPIs, sentiment over time, topics, the orders
forecast, top entities, recent alerts) takes seconds to fit, so it is not
computed when a page opens. :func:`build` runs the panels' tools once and
:func:`save` writes the result to ``<workspace>/dashboard.json`` (temp file,
fsync, rename) with the time it was computed and a :func:`fingerprint` of
the data and models it was computed from. The service rebuilds it after an
import and at start when the fingerprint no longer matches; ``pulse train``
rebuilds it too. A page shows the stored snapshot and when it was computed.

    >>> snap = build(call, ws)                # doctest: +SKIP
    >>> save(ws.path, snap); load(ws.path)["computed_at"][:4]   # doctest: +SKIP
    '2026'

What it leaves out: per-user dashboards, panels chosen by the user.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

from .base import ToolError, ToolResult

__all__ = ["PANELS", "build", "save", "load", "fingerprint", "is_fresh"]

#: (key, tool, args, caption)
PANELS = [
    (
        "sentiment",
        "sentiment",
        {"by": "month", "kind": "post"},
        "**Sentiment of posts over time**: share of negative and positive posts per month.",
    ),
    (
        "topics",
        "topics",
        {"kind": "review"},
        "**Top topics in reviews**: cluster sizes, labelled by their most distinctive words.",
    ),
    (
        "forecast",
        "forecast",
        {"metric": "orders", "horizon": "next quarter", "freq": "W"},
        "**Orders per week and forecast**: history, next 13 weeks, 80% and 95% intervals.",
    ),
]
_FILE = "dashboard.json"


def fingerprint(ws) -> str:
    """What the snapshot depends on: row counts and newest ids of the data, and the trained models' times."""
    row = ws.query(
        "SELECT (SELECT count(*) FROM documents) AS d, (SELECT max(doc_id) FROM documents) AS m, "
        "(SELECT count(*) FROM orders) AS o, (SELECT max(order_date) FROM orders) AS od, "
        "(SELECT count(*) FROM doc_sentiment) AS s"
    )[0]
    models = (
        sorted((p.name, int(p.stat().st_mtime)) for p in (Path(ws.path) / "models").glob("*.joblib"))
        if (Path(ws.path) / "models").is_dir()
        else []
    )
    return json.dumps([row, models], default=str)


def build(call: Callable[[str, dict], ToolResult], ws) -> dict:
    """Run every panel's tool once; a panel whose tool cannot run says why instead."""
    t0 = time.perf_counter()
    n = ws.query(
        "SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM reviews) AS reviews, "
        "(SELECT count(*) FROM posts) AS posts, (SELECT count(*) FROM orders) AS orders, "
        "(SELECT count(*) FROM customers) AS customers, (SELECT round(sum(total), 2) FROM orders) AS revenue"
    )[0]
    panels = []
    for key, tool, args, caption in PANELS:
        try:
            r = call(tool, args)
            panels.append(
                {
                    "key": key,
                    "caption": caption,
                    "chart": r.chart,
                    "summary": r.summary.splitlines()[0][:300] if r.summary else "",
                }
            )
        except ToolError as e:
            panels.append({"key": key, "caption": caption, "chart": None, "summary": f"Not available: {e}"})
    try:
        ents = call("entities", {"kind": "post"}).data
        entities = [[e.get("entity"), e.get("type"), e.get("count")] for e in (ents or {}).get("top", [])][:15]
    except ToolError:
        entities = []
    try:
        alerts = [
            [a.get("day"), a.get("series"), a.get("metric"), a.get("count"), a.get("baseline")]
            for a in call("alerts", {"limit": 10}).data or []
        ]
    except ToolError:
        alerts = []
    return {
        "computed_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "build_s": round(time.perf_counter() - t0, 2),
        "fingerprint": fingerprint(ws),
        "kpis": n,
        "panels": panels,
        "entities": entities,
        "alerts": alerts,
    }


def save(ws_path: Path, snap: dict) -> None:
    path = Path(ws_path) / _FILE
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(snap, f, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(ws_path: Path) -> dict | None:
    """The stored snapshot, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((Path(ws_path) / _FILE).read_text())
    except (OSError, ValueError):
        return None


def is_fresh(snap: dict | None, ws) -> bool:
    return snap is not None and bool(snap) and snap.get("fingerprint") == fingerprint(ws)
