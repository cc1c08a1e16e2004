"""Eval reports: each run kept as JSON, Markdown and a filterable HTML page; two runs compared.

    >>> path = write_run(run, Path("demo-workspace/eval_runs"))       # doctest: +SKIP
    >>> print(compare(load_run("previous", root), load_run("latest", root)))  # doctest: +SKIP

A run lives in ``<root>/<run_id>/``: ``run.json`` (everything, with each
turn's full trace), ``report.md`` and ``report.html`` (self-contained: open it
in a browser, filter by text, status or suite, expand a case for its trace).
Runs are never overwritten, so any two can be compared: another model,
another backend, a code change.

What it leaves out: running (``evals/runner.py``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

__all__ = ["write_run", "load_run", "list_runs", "compare", "format_totals", "markdown", "html_page", "RunNotFound"]

_METRICS = [
    ("pass_rate", "pass rate"),
    ("pass_k", "pass^k"),
    ("tool_accuracy", "tool choice"),
    ("arg_accuracy", "arguments"),
    ("answer_accuracy", "answers"),
    ("grounding_rate", "grounded"),
    ("refusal_accuracy", "refusals/handoffs"),
    ("latency_p50_s", "latency p50 s"),
    ("latency_p95_s", "latency p95 s"),
]


class RunNotFound(FileNotFoundError):
    pass


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and abs(v) <= 1 else f"{v:.1f}" if isinstance(v, float) else str(v)


def write_run(run: dict, root: Path) -> Path:
    """Write ``run.json``, ``report.md`` and ``report.html`` under ``root/run_id``; return that folder."""
    d = Path(root) / run["run_id"]
    n = 1
    while (d / "run.json").exists():  # two runs in the same second: never overwrite
        n += 1
        d = Path(root) / f"{run['run_id']}-{n}"
    run["run_id"] = d.name
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps(run, indent=1, default=str, ensure_ascii=False))
    (d / "report.md").write_text(markdown(run))
    (d / "report.html").write_text(html_page(run))
    return d


def list_runs(root: Path) -> list[Path]:
    """Stored runs, oldest first (run ids start with their UTC time)."""
    root = Path(root)
    return sorted((p for p in root.iterdir() if (p / "run.json").is_file()), key=lambda p: p.name) if root.is_dir() else []


def load_run(ref: str, root: Path | None = None) -> dict:
    """A run by folder, ``run.json`` path, run id under ``root``, or ``latest`` / ``previous``."""
    p = Path(ref)
    if p.is_file():
        return json.loads(p.read_text())
    if (p / "run.json").is_file():
        return json.loads((p / "run.json").read_text())
    runs = list_runs(root) if root else []
    if ref in ("latest", "previous"):
        need = 1 if ref == "latest" else 2
        if len(runs) < need:
            raise RunNotFound(f"{ref}: {len(runs)} stored run(s) in {root}")
        return json.loads((runs[-need] / "run.json").read_text())
    matches = [r for r in runs if r.name == ref] or [r for r in runs if r.name.startswith(ref)]
    if len(matches) != 1:
        known = ", ".join(r.name for r in runs[-5:]) or "none"
        raise RunNotFound(f"no single run {ref!r} in {root} ({len(matches)} match; latest: {known})")
    return json.loads((matches[0] / "run.json").read_text())


def format_totals(run: dict) -> str:
    """The totals as a Markdown table: one row for the run, one per suite."""
    head = "| suite | cases | runs | " + " | ".join(label for _, label in _METRICS) + " |"
    lines = [head, "|" + "---|" * (3 + len(_METRICS))]
    rows = [("**all**", run["totals"])] + list(run.get("by_suite", {}).items())
    if len(run.get("by_split") or {}) > 1:
        rows += [(f"*{sp} split*", t) for sp, t in run["by_split"].items()]
    for name, t in rows:
        lines.append(f"| {name} | {t['cases']} | {t['runs']} | " + " | ".join(_fmt(t.get(k)) for k, _ in _METRICS) + " |")
    return "\n".join(lines)


def markdown(run: dict) -> str:
    out = [
        f"# Eval run {run['run_id']}",
        "",
        f"Model `{run['model']}` ({run['backend']}), commit {run.get('commit') or '?'}, split {run['split']}, "
        f"repeat {run['repeat']}, {run['wall_s']:.0f} s, started {run['started']}.",
        "",
        format_totals(run),
        "",
    ]
    failed = [c for c in run["cases"] if not c["passed"]]
    out.append(f"## Failures ({len(failed)} of {len(run['cases'])} case runs)")
    out.append("")
    for c in failed:
        last = c["turns"][-1]
        out.append(f"- **{c['suite']}/{c['id']}** (repeat {c['repeat'] + 1}): {c['reason']}")
        out.append(f"  - user: {last['user'][:200]!r}; tools: {', '.join(last['tools'])}; answer: {last['answer'][:240]!r}")
    return "\n".join(out) + "\n"


_CSS = """body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}tr.pass td.st{color:#080}tr.fail td.st{color:#b00}
pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;max-height:30em;overflow:auto}#filters{margin:1em 0}
.bad{color:#b00}.ok{color:#080}"""
_JS = """function f(){const q=document.getElementById('q').value.toLowerCase(),s=document.getElementById('status').value,
u=document.getElementById('suite').value;let n=0;for(const r of document.querySelectorAll('tr.case')){const show=
(!q||r.dataset.text.includes(q))&&(!s||r.classList.contains(s))&&(!u||r.dataset.suite===u);r.style.display=show?'':'none';
const d=document.getElementById('d-'+r.id);if(d)d.style.display=show?'':'none';n+=show}document.getElementById('n').textContent=n}"""


def html_page(run: dict) -> str:
    """A self-contained page: totals, then every case run with a filter and its trace."""
    e = html.escape
    suites = sorted({c["suite"] for c in run["cases"]})
    rows = []
    for i, c in enumerate(run["cases"]):
        cls = "pass" if c["passed"] else "fail"
        text = " ".join([c["id"], c["reason"], *[t["user"] + " " + t["answer"] for t in c["turns"]]]).lower()
        trace = []
        for j, t in enumerate(c["turns"], start=1):
            checks = " ".join(
                f"<span class={'ok' if k['ok'] else 'bad'}>{e(k['check'])}{'' if k['ok'] else ': ' + e(k['detail'])}</span>"
                for k in t["checks"]
            )
            trace.append(
                f"<p><b>turn {j}</b> ({t.get('latency_s', 0):.1f} s) user: {e(t['user'])}<br>tools: {e(', '.join(t['tools']))}"
                f"<br>checks: {checks}</p><pre>{e(t['answer'])}</pre>"
                f"<details><summary>tool calls and sources</summary><pre>"
                f"{e(json.dumps({'tool_calls': t['tool_calls'], 'sources': t.get('sources')}, indent=1, default=str, ensure_ascii=False))}"
                f"</pre></details>"
            )
        rows.append(
            f"<tr class='case {cls}' id='c{i}' data-suite='{e(c['suite'])}' data-text='{e(text)}'>"
            f"<td class=st>{cls}</td><td>{e(c['suite'])}</td><td>{e(c['id'])}</td><td>{c['repeat'] + 1}</td>"
            f"<td>{e(c['split'])}</td><td>{e(c['reason'])}</td></tr>"
            f"<tr id='d-c{i}'><td colspan=6><details><summary>trace</summary>{''.join(trace)}</details></td></tr>"
        )
    totals_html = _md_table_html(format_totals(run))
    opts = "".join(f"<option>{e(s)}</option>" for s in suites)
    return f"""<!doctype html><html><head><meta charset=utf-8><title>Pulse eval {e(run["run_id"])}</title><style>{_CSS}</style></head>
<body><h1>Pulse eval {e(run["run_id"])}</h1>
<p>Model <code>{e(run["model"])}</code> ({e(run["backend"])}), commit {e(str(run.get("commit")))}, split {e(run["split"])},
repeat {run["repeat"]}, {run["wall_s"]:.0f} s, started {e(run["started"])}.</p>
{totals_html}
<div id=filters><input id=q placeholder="filter text" oninput=f()> <select id=status onchange=f()><option value="">all</option>
<option value=pass>passed</option><option value=fail>failed</option></select> <select id=suite onchange=f()><option value="">every suite</option>{opts}</select>
<span id=n>{len(run["cases"])}</span> shown</div>
<table><tr><th>status</th><th>suite</th><th>case</th><th>repeat</th><th>split</th><th>reason</th></tr>{"".join(rows)}</table>
<script>{_JS}</script></body></html>"""


def _md_table_html(md: str) -> str:
    lines = [ln for ln in md.splitlines() if ln.startswith("|") and not ln.startswith("|---")]
    cells = [[c.strip().strip("*") for c in ln.strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def compare(a: dict, b: dict) -> str:
    """What changed from run ``a`` to run ``b``: the totals side by side, then cases that flipped."""
    out = [
        f"# {a['run_id']} → {b['run_id']}",
        "",
        f"A: `{a['model']}` ({a['backend']}, commit {a.get('commit')}); B: `{b['model']}` ({b['backend']}, commit {b.get('commit')})",
        "",
        "| metric | A | B | change |",
        "|---|---|---|---|",
    ]
    for k, label in [("cases", "cases"), ("runs", "case runs")] + _METRICS:
        va, vb = a["totals"].get(k), b["totals"].get(k)
        delta = f"{vb - va:+.3f}" if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else ""
        out.append(f"| {label} | {_fmt(va)} | {_fmt(vb)} | {delta} |")

    def status(run):
        s: dict[tuple, list] = {}
        for c in run["cases"]:
            s.setdefault((c["suite"], c["id"]), []).append(c)
        return {k: (all(x["passed"] for x in v), v[-1]["reason"]) for k, v in s.items()}

    sa, sb = status(a), status(b)
    fixed = [k for k in sa.keys() & sb.keys() if not sa[k][0] and sb[k][0]]
    broke = [k for k in sa.keys() & sb.keys() if sa[k][0] and not sb[k][0]]
    out += ["", f"## Now failing ({len(broke)})"] + [f"- {s}/{i}: {sb[(s, i)][1]}" for s, i in sorted(broke)]
    out += ["", f"## Now passing ({len(fixed)})"] + [f"- {s}/{i} (was: {sa[(s, i)][1]})" for s, i in sorted(fixed)]
    only_a, only_b = sorted(sa.keys() - sb.keys()), sorted(sb.keys() - sa.keys())
    if only_a or only_b:
        out += ["", f"## Cases in one run only: {len(only_a)} only in A, {len(only_b)} only in B"]
        out += [f"- A only: {s}/{i}" for s, i in only_a] + [f"- B only: {s}/{i}" for s, i in only_b]
    return "\n".join(out) + "\n"
