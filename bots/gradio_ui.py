"""The analyst's web UI (Gradio 6): chat, data import, dashboard. Served by ``pulse serve`` at ``/``.

    >>> demo = build_ui(PulseService.open(settings))   # doctest: +SKIP
    >>> demo.launch()                                    # doctest: +SKIP

* **Chat**: tokens stream; each tool call is a collapsible step (``ChatMessage``
  metadata: tool, arguments, duration, status); sources are numbered links to
  ``/doc/{id}``; charts render inline; thumbs up/down are stored with the
  question, tool trace and answer (``agent/log.py``); past conversations are
  listed and resume after a restart (the log and the agent's checkpoints are files).
* **Data**: upload CSV/Parquet/JSONL, pick the kind, map columns with a preview,
  import all-or-nothing (errors shown row by row), then the index and
  sentiment scores update with a progress bar.
* **Dashboard**: KPIs, sentiment trend, topics, entities, alerts, orders and forecast,
  each chart with a caption.

Everything goes through :class:`agent.service.PulseService`; this file never touches a tool
or the database. What it leaves out: user accounts (put a proxy in front).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import gradio as gr

from agent.results import StepEvent, ToolCall
from agent.service import IngestError, PulseService

__all__ = ["build_ui", "EXAMPLES"]

#: Shown to a first-time user; the eval suites have their own questions.
EXAMPLES = [
    "What do customers say about dress sizing?",
    "Forecast orders for the next quarter",
    "How has sentiment in reviews changed by month?",
    "What are the main topics in reviews?",
    "How many orders did customer 42 place?",
]


def _source_lines(sources: list[dict], answer: str = "") -> str:
    """The sources the answer cites, plus the top five, as numbered links."""
    import re

    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    lines = []
    for s in sources:
        if s["n"] > 5 and s["n"] not in cited:
            continue
        snippet = (s.get("text") or "").replace("\n", " ")
        snippet = snippet[:140] + ("…" if len(snippet) > 140 else "")
        lines.append(
            f'[{s["n"]}] <a href="/doc/{s["doc_id"]}" target="_blank">{s.get("kind", "doc")} {s.get("ref_id", "")}</a>: {snippet}'
        )
    return "\n\n**Sources**\n\n" + "\n\n".join(lines) if lines else ""


def _step_message(call: StepEvent | ToolCall, pending: bool = False) -> gr.ChatMessage:
    args = json.dumps(call.get("args") or {}, default=str)
    if pending:
        return gr.ChatMessage(
            role="assistant", content=f"arguments: `{args}`", metadata={"title": f"🔧 {call['name']}", "status": "pending"}
        )
    res = call.get("result") or {}
    body = f"arguments: `{args}`\n\n" + (f"error: {call['error']}" if call.get("error") else (res.get("summary") or "")[:1200])
    return gr.ChatMessage(
        role="assistant",
        content=body,
        metadata={
            "title": f"🔧 {call['name']}" + (" (failed)" if call.get("error") else ""),
            "status": "done",
            "duration": round(call.get("duration_s") or 0.0, 2),
        },
    )


def _history_from_log(svc: PulseService, cid: str) -> tuple[list, dict]:
    """Rebuild the chat (steps, answers, charts) from the log, and the answer-index -> message id map."""
    hist: list = []
    ids: dict = {}
    for m in svc.log.messages(cid):
        if m["role"] == "user":
            hist.append(gr.ChatMessage(role="user", content=m["content"]))
            continue
        for c in m["tool_calls"] or []:
            hist.append(_step_message(c))
        ids[str(len(hist))] = m["id"]
        hist.append(gr.ChatMessage(role="assistant", content=m["content"] + _source_lines(m["sources"] or [], m["content"])))
        for spec in m["charts"] or []:
            hist.append(gr.ChatMessage(role="assistant", content=gr.Image(str(svc.chart_png(spec)), label=spec.get("title"))))
    return hist, ids


def build_ui(svc: PulseService) -> gr.Blocks:
    def conversation_choices():
        return [((c["title"] or "untitled")[:60], c["id"]) for c in svc.log.conversations("web")]

    # -- chat --------------------------------------------------------------------------------

    def respond(message: str, history: list, cid: str | None, ids: dict) -> Iterator[tuple]:
        message = (message or "").strip()
        if not message:
            yield history, "", cid, ids, gr.update()
            return
        history = list(history) + [gr.ChatMessage(role="user", content=message)]
        yield history, "", cid, ids, gr.update()
        answer_at = None
        step_at = None
        for ev in svc.stream(message, cid, channel="web"):
            if ev["type"] == "step":
                if ev["step"] == "tool_end" and step_at is not None:
                    history[step_at] = _step_message(ev)
                else:
                    step_at = len(history)
                    history.append(_step_message(ev, pending=True))
                yield history, "", cid, ids, gr.update()
            elif ev["type"] == "token":
                if answer_at is None:
                    answer_at = len(history)
                    history.append(gr.ChatMessage(role="assistant", content=""))
                history[answer_at] = gr.ChatMessage(role="assistant", content=history[answer_at].content + ev["text"])
                yield history, "", cid, ids, gr.update()
            elif ev["type"] == "error":
                history.append(gr.ChatMessage(role="assistant", content=f"⚠️ {ev['error']}"))
                yield history, "", cid, ids, gr.update()
                return
            elif ev["type"] == "done":
                r = ev["result"]
                cid = r["conversation_id"]
                final = gr.ChatMessage(role="assistant", content=r["answer"] + _source_lines(r["sources"], r["answer"]))
                if answer_at is None:
                    answer_at = len(history)
                    history.append(final)
                else:
                    history[answer_at] = final
                ids = {**ids, str(answer_at): r["message_id"]}
                for spec in r["charts"]:
                    history.append(
                        gr.ChatMessage(role="assistant", content=gr.Image(str(svc.chart_png(spec)), label=spec.get("title")))
                    )
                yield history, "", cid, ids, gr.update(choices=conversation_choices(), value=cid)

    def retry(history: list, cid: str | None, ids: dict):
        users = [i for i, m in enumerate(history) if (m["role"] if isinstance(m, dict) else m.role) == "user"]
        if not users:
            yield history, "", cid, ids, gr.update()
            return
        last = users[-1]
        m = history[last]
        text = m["content"] if isinstance(m, dict) else m.content
        text = text if isinstance(text, str) else " ".join(p.get("text", "") for p in text if isinstance(p, dict))
        kept = {k: v for k, v in ids.items() if int(k) < last}
        yield from respond(text, history[:last], cid, kept)

    def like(data: gr.LikeData, history: list, ids: dict):
        # Gradio groups consecutive assistant messages (tool steps, answer, chart) and rates the group;
        # the rating goes to the answer inside the group that holds the rated index
        at = data.index if isinstance(data.index, int) else data.index[0]
        roles = [m["role"] if isinstance(m, dict) else m.role for m in history]
        lo = at
        while lo > 0 and roles[lo - 1] != "user":
            lo -= 1
        hi = at
        while hi + 1 < len(roles) and roles[hi + 1] != "user":
            hi += 1
        inside = [ids[str(i)] for i in range(lo, hi + 1) if str(i) in ids]
        if not inside:
            gr.Warning("Only answers can be rated.")
            return
        svc.feedback(inside[-1], 1 if data.liked else -1)
        gr.Info("Thanks, your feedback is saved.")

    def open_conversation(cid: str | None):
        if not cid:
            return [], None, {}
        hist, ids = _history_from_log(svc, cid)
        return hist, cid, ids

    # -- data -----------------------------------------------------------------------------------

    def preview(file, kind):
        if not file:
            return None, None, "", "", None
        try:
            p = svc.preview_file(Path(file), kind)
        except ValueError as e:  # unreadable file: say so, import nothing
            return None, None, f"⚠️ {e}", "", None
        mapping = [[c, p["mapping"].get(c, "")] for c in p["columns"]]
        note = (
            f"{Path(file).name}: {p['n_rows']:,} rows, {len(p['columns'])} columns. Fields of {kind}: {', '.join(p['fields'])}."
        )
        if p["missing"]:
            note += f" Map a column to the required field(s): {', '.join(p['missing'])}."
        return p["head"], mapping, note, "", None

    def do_import(file, kind, mapping, progress=gr.Progress(track_tqdm=True)):
        if not file:
            return "⚠️ Choose a file first.", None
        pairs = mapping.values.tolist() if hasattr(mapping, "values") else (mapping or [])
        m = {str(src): str(dst).strip() for src, dst in pairs if dst and str(dst).strip()}
        try:
            rep = svc.import_file(Path(file), kind, m, progress=True)
        except IngestError as e:
            rows = [[r, c, v, why] for r, c, v, why in e.errors]
            head = str(e).splitlines()[0]
            return f"⚠️ Nothing was imported. {head}", rows or None
        except (ValueError, FileNotFoundError) as e:
            return f"⚠️ Nothing was imported. {e}", None
        return (
            f"✅ Imported {rep['rows']:,} rows of {rep['kind']} ({rep['inserted']:,} new, {rep['replaced']:,} updated); "
            f"{rep['embedded']:,} documents embedded and searchable; sentiment scored for {rep['sentiment_scored']:,} "
            "documents."
        ), None

    # -- dashboard --------------------------------------------------------------------------------

    def dashboard(refresh: bool = False):
        """Draw the stored snapshot (computed when data or models change, not at each page load)."""
        snap = svc.dashboard(refresh=refresh)
        n = snap["kpis"]
        when = (
            f"Computed {snap['computed_at']} in {snap['build_s']:.1f} s"
            + (
                ""
                if snap.get("fresh", True)
                else "; the data or models changed since, and a fresh one is being computed (press Refresh in a minute)"
            )
            + "."
        )
        kpis = (
            f"| documents | reviews | posts | orders | customers | revenue |\n|---|---|---|---|---|---|\n"
            f"| {n['documents']:,} | {n['reviews']:,} | {n['posts']:,} | {n['orders']:,} | {n['customers']:,} | "
            f"${(n['revenue'] or 0):,.2f} |\n\n{when}"
        )
        out: list[str | None] = [kpis]
        for p in snap["panels"]:
            out += [str(svc.chart_png(p["chart"])) if p["chart"] else None, f"{p['caption']} {p['summary']}"]
        return (*out, snap["entities"] or None, snap["alerts"] or None)

    with gr.Blocks(title="Pulse") as demo:
        cid = gr.State(None)
        ids = gr.State({})
        gr.Markdown("## Pulse: ask your social and shop data")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=1, min_width=200):
                    new = gr.Button("New chat", size="sm")
                    convs = gr.Dropdown(
                        label="Conversations",
                        choices=conversation_choices(),
                        value=None,
                        interactive=True,
                        elem_id="conversations",
                    )
                with gr.Column(scale=4):
                    chatbot = gr.Chatbot(
                        label="Pulse",
                        height=560,
                        elem_id="chat",
                        placeholder="Ask about reviews, posts, orders, customers or products. Try an example:",
                        examples=[{"text": q} for q in EXAMPLES],
                    )
                    msg = gr.Textbox(placeholder="Ask a question and press Enter", show_label=False, elem_id="ask", max_lines=6)
                    with gr.Row():
                        send = gr.Button("Send", variant="primary", elem_id="send")
                        stop = gr.Button("Stop", elem_id="stop")
                        again = gr.Button("Retry", elem_id="retry")
        outs = [chatbot, msg, cid, ids, convs]
        e1 = msg.submit(respond, [msg, chatbot, cid, ids], outs)
        e2 = send.click(respond, [msg, chatbot, cid, ids], outs)
        e3 = again.click(retry, [chatbot, cid, ids], outs)

        def from_example(d: gr.SelectData, h, c, i):
            yield from respond(d.value["text"], h, c, i)

        e4 = chatbot.example_select(from_example, [chatbot, cid, ids], outs)
        stop.click(None, None, None, cancels=[e1, e2, e3, e4])
        chatbot.like(like, [chatbot, ids], None)
        new.click(lambda: ([], None, {}, gr.update(value=None)), None, [chatbot, cid, ids, convs])
        convs.input(open_conversation, [convs], [chatbot, cid, ids])
        # each page load lists the conversations as they are now (the list built with the UI goes stale)
        demo.load(lambda: gr.update(choices=conversation_choices()), None, convs)

        with gr.Tab("Data"):
            gr.Markdown(
                "Import a CSV, Parquet or JSONL file. Check the preview and the column mapping, then import: "
                "a file with any bad row imports nothing, and every bad row is listed."
            )
            with gr.Row():
                up = gr.File(label="File", file_types=[".csv", ".tsv", ".parquet", ".jsonl", ".json"], elem_id="upload")
                kind = gr.Dropdown(
                    ["reviews", "posts", "products", "customers", "orders", "ratings", "help"],
                    value="reviews",
                    label="Kind",
                    elem_id="kind",
                )
            note = gr.Markdown(elem_id="preview-note")
            prev = gr.Dataframe(label="Preview (first 10 rows)", interactive=False)
            mapping = gr.Dataframe(
                headers=["file column", "field"],
                label="Column mapping (edit the field column)",
                interactive=True,
                column_count=2,
                column_limits=(2, 2),  # fixed: the user edits the field column, never adds one
                elem_id="mapping",
            )
            go = gr.Button("Import", variant="primary", elem_id="import")
            status = gr.Markdown(elem_id="import-status")
            errors = gr.Dataframe(
                headers=["row", "column", "value", "problem"],
                label="Rows with errors",
                interactive=False,
                elem_id="import-errors",
            )
        up.change(preview, [up, kind], [prev, mapping, note, status, errors])
        kind.change(preview, [up, kind], [prev, mapping, note, status, errors])
        go.click(do_import, [up, kind, mapping], [status, errors])

        with gr.Tab("Dashboard") as dash_tab:
            kpi = gr.Markdown(elem_id="kpis")
            with gr.Row():
                s_img, t_img = (
                    gr.Image(label="Sentiment over time", interactive=False),
                    gr.Image(label="Topics", interactive=False),
                )
            with gr.Row():
                s_cap, t_cap = gr.Markdown(), gr.Markdown()
            f_img = gr.Image(label="Orders and forecast", interactive=False)
            f_cap = gr.Markdown()
            with gr.Row():
                ents = gr.Dataframe(
                    headers=["entity", "type", "mentions"],
                    label="Top entities in posts: the most mentioned names, hashtags and accounts",
                    interactive=False,
                )
                alerts = gr.Dataframe(
                    headers=["day", "series", "metric", "count", "baseline"],
                    label="Recent alerts: days far above the 28-day median (z ≥ 4)",
                    interactive=False,
                )
            refresh = gr.Button("Refresh", size="sm", elem_id="refresh")
        dash_outs = [kpi, s_img, s_cap, t_img, t_cap, f_img, f_cap, ents, alerts]
        dash_tab.select(dashboard, None, dash_outs)
        refresh.click(lambda: dashboard(refresh=True), None, dash_outs)
    return demo
