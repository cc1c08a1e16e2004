"""Render a tool's chart spec to a PNG with matplotlib (CLI ``--plot``, Discord attachments).

Tools return charts as plain dicts, so any front end can draw them its own
way. Three shapes exist:

- ``{"type": "line" | "bar", "title", "x": key, "y": [keys], "data": [{...}, ...]}``
- ``{"type": "forecast", "title", "history": [{"ds", "y"}], "forecast": [{"ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"}]}``

    >>> render_chart({"type": "bar", "title": "t", "x": "k", "y": ["v"], "data": [{"k": "a", "v": 1}]}, Path("c.png"))  # doctest: +SKIP

What it leaves out: interactivity (the web UI draws its own).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["render_chart"]


def render_chart(spec: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    if spec["type"] == "forecast":
        h = pd.DataFrame(spec["history"])
        f = pd.DataFrame(spec["forecast"])
        hx, fx = pd.to_datetime(h["ds"]), pd.to_datetime(f["ds"])
        ax.plot(hx, h["y"], color="#333", lw=1.4, label="history")
        ax.plot(fx, f["yhat"], color="#1f77b4", lw=2, label="forecast")
        ax.fill_between(fx, f["lo_95"], f["hi_95"], color="#1f77b4", alpha=0.15, label="95% interval")
        ax.fill_between(fx, f["lo_80"], f["hi_80"], color="#1f77b4", alpha=0.3, label="80% interval")
        ax.legend(loc="upper left", frameon=False)
    else:
        d = pd.DataFrame(spec["data"])
        x = d[spec["x"]].astype(str)
        if spec["type"] == "line":
            for y in spec["y"]:
                ax.plot(pd.to_datetime(x, errors="coerce") if spec["x"] in ("period", "ds", "day") else x, d[y], lw=1.6, label=y)
        else:
            width = 0.8 / len(spec["y"])
            for i, y in enumerate(spec["y"]):
                ax.bar([j + i * width for j in range(len(x))], d[y], width=width, label=y)
            ax.set_xticks([j + width * (len(spec["y"]) - 1) / 2 for j in range(len(x))], x, rotation=30, ha="right", fontsize=8)
        if len(spec["y"]) > 1:
            ax.legend(frameon=False)
        if spec.get("y_label"):
            ax.set_ylabel(spec["y_label"])
    ax.set_title(spec.get("title", ""), fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
