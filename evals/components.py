"""The components table: each analytics model's quality beside its baseline, from the stored cards.

``pulse train`` measures; this module reads the cards in ``<workspace>/models``
and lays them out as one table (rows of component, metric, Pulse, baseline,
data), so ``pulse eval --components`` prints in a blink and CI can set floors.

    >>> rows = component_rows(ws_path)                         # doctest: +SKIP
    >>> rows[0]["component"], rows[0]["metric"]                # doctest: +SKIP
    ('sentiment', 'macro-F1')

What it leaves out: measuring (that is ``tools/train.py``).
"""

from __future__ import annotations

from pathlib import Path

from workspace.artifacts import ArtifactMissing, list_artifacts

__all__ = ["component_rows", "format_table"]


def component_rows(ws_path: Path) -> list[dict]:
    cards = {c["name"]: c for c in list_artifacts(ws_path)}
    if not cards:
        raise ArtifactMissing(f"no trained models in {ws_path}: run `pulse train` first")
    rows = []

    def add(component, metric, pulse, baseline_name, baseline, data):
        rows.append(
            {
                "component": component,
                "metric": metric,
                "pulse": pulse,
                "baseline_name": baseline_name,
                "baseline": baseline,
                "data": data,
            }
        )

    if "sentiment" in cards:
        for name, m in cards["sentiment"]["metrics"]["sets"].items():
            base = next(k for k in m if k != "pulse")  # vader, or snownlp for Chinese
            label = {"vader": "VADER"}.get(base, base)
            for metric, key in (("macro-F1", "macro_f1"), ("accuracy", "accuracy")):
                add("sentiment", metric, m["pulse"][key], label, m[base][key], f"{name}, n={m['pulse']['n']:,}")
            if "classifier_alone" in m:  # an unseen domain: what leaning on VADER there adds
                alone = m["classifier_alone"]["macro_f1"]
                add("sentiment", "macro-F1", m["pulse"]["macro_f1"], "classifier alone", alone, f"{name}, n={m['pulse']['n']:,}")
            if "without_teacher" in m:  # the taught head's gain: the same rows read as if no posts were labelled
                untaught = m["without_teacher"]["macro_f1"]
                add(
                    "sentiment",
                    "macro-F1",
                    m["pulse"]["macro_f1"],
                    "without the teacher",
                    untaught,
                    f"{name}, n={m['pulse']['n']:,}",
                )
    if "topics" in cards:
        for kind, m in cards["topics"]["metrics"].items():
            add("topics", "NPMI", m["pulse"]["npmi"], "LDA", m["lda"]["npmi"], f"{m['n_docs']:,} {kind}, k={m['k']}")
            add(
                "topics",
                "diversity",
                m["pulse"]["diversity"],
                "LDA",
                m["lda"]["diversity"],
                f"{m['n_docs']:,} {kind}, k={m['k']}",
            )
    if "recommender" in cards:
        m, d = cards["recommender"]["metrics"], cards["recommender"].get("data", {})
        splits = [("test", m.get("split", "").split(":")[0])] + (
            [("global_time", "global time cut 80/20")] if m.get("global_time") else []
        )
        for key, label in splits:
            t = m[key]
            for metric in ("recall@10", "ndcg@10"):
                for base in ("default ALS", "popularity"):
                    if base in t:
                        add(
                            "recommendation",
                            metric,
                            t["pulse"][metric],
                            base,
                            t[base][metric],
                            f"{d.get('interactions', '?'):,} interactions, {label}, {t['users']} test users ({m.get('model', 'ALS')})",
                        )
    if "forecast" in cards:
        m = cards["forecast"]["metrics"]
        for name, r in m["series"].items():
            add(
                "forecast",
                "MASE",
                r["mase"],
                "seasonal naive",
                r["mase_seasonal_naive"],
                f"{name}, last {r['h']} held out ({r['model']})",
            )
        add(
            "forecast", "mean MASE", m["mean_mase"], "seasonal naive", m["mean_mase_seasonal_naive"], f"{len(m['series'])} series"
        )
        if "mean_mase_best_single" in m:  # the choice (with the combination) beside the best model alone
            add(
                "forecast",
                "mean MASE",
                m["mean_mase"],
                f"best single model ({m['best_single_model']})",
                m["mean_mase_best_single"],
                f"{len(m['series'])} series; " + ", ".join(f"{k} {v}" for k, v in m.get("mean_mase_singles", {}).items()),
            )
    if "churn" in cards:
        m = cards["churn"]["metrics"]
        add(
            "churn",
            "AUC",
            m["auc"],
            "recency only",
            m["auc_recency_only"],
            f"{m['n_test']:,} held-out customers, {m['horizon_days']}-day horizon",
        )
    return rows


def _fmt(x) -> str:
    return "" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def format_table(rows: list[dict]) -> str:
    """A Markdown table (readable in a terminal and pasteable into the README)."""
    lines = ["| component | metric | Pulse | baseline | data |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['component']} | {r['metric']} | {_fmt(r['pulse'])} | {r['baseline_name']} {_fmt(r['baseline'])} | {r['data']} |"
        )
    return "\n".join(lines)
