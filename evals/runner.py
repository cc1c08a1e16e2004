"""Run eval suites through the agent core the front ends use, and score them.

    >>> svc = PulseService.open(load_settings(), log_path=run_dir / "log.sqlite")   # doctest: +SKIP
    >>> run = Runner(svc).run([load_suite("evals/suites/analyst.yaml")], split="test", repeat=3)  # doctest: +SKIP
    >>> run["totals"]["pass_rate"], run["totals"]["pass_k"]                          # doctest: +SKIP

Analyst cases talk to :meth:`PulseService.ask` (one conversation per case, so
follow-ups see earlier turns). Support cases sign in at the
:class:`~agent.support.SupportDesk` and talk through it, so the desk's code
policy (cross-customer refusals, confirmations, handoff) is what gets scored.
A components suite checks floors on the trained models' cards.

Totals (over every turn of every repeat unless said otherwise):

* ``pass_rate``: passed case runs / case runs; ``pass_k``: cases that passed in
  all ``k`` repeats / cases (tau-bench's pass^k).
* ``tool_accuracy``: turns with a ``tool`` expectation that called it.
* ``arg_accuracy``: turns with ``args`` rules whose rules all held.
* ``answer_accuracy``: turns with answer checks (contains, regex, number, ...) that all held.
* ``grounding_rate``: turns that called a tool whose answer passed the agent's grounding check.
* ``refusal_accuracy``: turns with a ``refused`` or ``handoff`` expectation that got it right.
* ``latency_p50_s`` / ``latency_p95_s``: wall-clock seconds per turn.

What it leaves out: writing reports (``evals/report.py``).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from agent.agents import AgentInputError

from .suite import Case, Check, Suite, SuiteError, check_turn, tools_called

__all__ = ["Runner", "open_service", "totals", "ANSWER_CHECKS"]

ANSWER_CHECKS = {"contains", "contains_any", "not_contains", "regex", "number", "cites", "lang"}
_TRACE_CHARS = 2000


def _short(obj, n: int = _TRACE_CHARS):
    """Tool results can be long (hundreds of rows): keep the report readable."""
    text = json.dumps(obj, default=str, ensure_ascii=False)
    return obj if len(text) <= n else text[:n] + f"... [{len(text) - n:,} more characters]"


@contextmanager
def open_service(settings, suites: list[Suite], log_path: Path, progress: bool = True):
    """The agent core for a run, with its own conversation log at ``log_path``.

    When a suite has ``setup`` rows, the workspace's database, index and models
    are copied to a scratch folder under ``root`` and the rows imported there
    (the real import path: validated, embedded, scored); the workspace itself
    is never written. The scratch copy is removed afterwards.
    """
    from agent.service import PulseService

    log_path.parent.mkdir(parents=True, exist_ok=True)
    scratch: Path | None = None
    if any(s.setup for s in suites):
        scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=log_path.parent))
        for name in (settings.db_path.name, "index.faiss", "models"):
            src = settings.workspace / name
            if src.is_dir():
                shutil.copytree(src, scratch / name)
            elif src.exists():
                shutil.copy2(src, scratch / name)
        settings = settings.model_copy(update={"workspace": scratch})
    svc = PulseService.open(settings, log_path=log_path)
    try:
        for suite in suites:
            for i, st in enumerate(suite.setup):
                assert scratch is not None  # made above for any suite with a setup
                f = scratch / f"setup-{suite.suite}-{i}.jsonl"
                f.write_text("\n".join(json.dumps(r, default=str) for r in st.rows) + "\n")
                try:
                    svc.import_file(f, st.kind, progress=progress)
                except Exception as e:  # noqa: BLE001 - a bad setup row is the suite's fault
                    raise SuiteError(f"suite {suite.suite}: setup rows for {st.kind!r} could not be imported: {e}") from None
        yield svc
    finally:
        svc.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class Runner:
    def __init__(self, svc, desk=None, progress: bool = True, workspace_name: str | None = None):
        from agent.support import SupportDesk

        self.svc = svc
        self.workspace_name = workspace_name  # the user's workspace, when svc runs on a scratch copy
        self.desk = desk or SupportDesk(svc)
        self.ws = svc.analyst.ws
        self.progress = progress

    def sql(self, query: str):
        """The first cell of a query's first row: how suites state expected values."""
        try:
            rows = self.ws.query(query)
        except Exception as e:  # noqa: BLE001 - any database error is the suite's fault; say which query
            raise SuiteError(f"expected-value SQL failed: {query!r}: {e}") from None
        if not rows:
            raise SuiteError(f"expected-value SQL returned no rows: {query!r}")
        return next(iter(rows[0].values()))

    # -- running -----------------------------------------------------------------------------

    def run(self, suites: list[Suite], split: str = "all", tags: list[str] | None = None, repeat: int = 1) -> dict:
        """Run the selected cases ``repeat`` times; return the run record (cases, totals, metadata)."""
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        jobs = [(s, c) for s in suites for c in s.select(split, tags)]
        if not jobs:
            raise SuiteError(f"no cases selected (split={split}, tags={tags or 'any'})")
        results = []
        bar = tqdm(total=len(jobs) * repeat, desc="eval", unit="case", disable=not self.progress)
        for rep in range(repeat):
            for suite, case in jobs:
                r = self._components_case(suite, case) if suite.kind == "components" else self._case(suite, case)
                r["repeat"] = rep
                results.append(r)
                bar.update(1)
                bar.set_postfix(passed=f"{sum(x['passed'] for x in results)}/{len(results)}")
        bar.close()
        s = self.svc.settings
        return {
            "run_id": started.strftime("%Y%m%d-%H%M%S")
            + "-"
            + "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in s.model)[-40:],
            "started": started.isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - t0, 1),
            "model": s.model,
            "backend": s.backend,
            "workspace": str(self.workspace_name or s.workspace),
            "commit": _commit(),
            "python": platform.python_version(),
            "split": split,
            "tags": tags or [],
            "repeat": repeat,
            "suites": [
                {"name": su.suite, "path": su.path, "kind": su.kind, "cases": len(su.select(split, tags))} for su in suites
            ],
            "totals": totals(results),
            "by_suite": {su.suite: totals([r for r in results if r["suite"] == su.suite]) for su in suites},
            "by_split": {
                sp: totals([r for r in results if r["split"] == sp])
                for sp in ("dev", "test")
                if any(r["split"] == sp for r in results)
            },
            "cases": results,
        }

    def _case(self, suite: Suite, case: Case) -> dict:
        persona = case.persona or suite.persona
        conv, token, turns = None, None, []
        if persona == "support" and case.customer is not None:
            cid = self._value(case.customer)
            signed = self._signin({"customer_id": cid, **self._facts(cid)})
            if not signed["signed_in"]:  # e.g. locked out by an earlier case: this case cannot run
                trace = self._trace(f"(sign in as {cid})", signed, 0.0, [Check("signed_in", False, signed["error"])])
                return _case_result(suite, case, persona, [f"sign-in as customer {cid} failed: {signed['error']}"], [trace])
            token = signed["token"]
        for turn in case.turns:
            t0 = time.perf_counter()
            if turn.signin is not None:
                reply = self._signin({k: self._value(v) for k, v in turn.signin.items()})
                token = reply.pop("token", None) or token
                said = f"(sign in: {', '.join(f'{k}={v}' for k, v in reply['facts'].items())})"
            else:
                said = turn.user or ""
                reply = self._say(persona, said, conv, token, case.channel)
                conv = reply.get("conversation_id") or conv
            latency = time.perf_counter() - t0
            checks = check_turn(turn.expect, reply, self.sql, latency, suite.latency_s)
            if "error" in reply and turn.signin is None and turn.expect.error is None:
                checks.insert(0, Check("error", False, reply["error"]))
            turns.append(self._trace(said, reply, latency, checks))
        failed = [f"turn {i + 1} {c['check']}: {c['detail']}" for i, t in enumerate(turns) for c in t["checks"] if not c["ok"]]
        return _case_result(suite, case, persona, failed, turns)

    def _say(self, persona: str, text: str, conv: str | None, token: str | None, channel: str | None) -> dict:
        try:
            if persona == "support":
                if token is None:
                    return {"answer": "", "tool_calls": [], "error": "not signed in"}
                return dict(self.desk.ask(token, text))  # a turn's result, or below a sign-in's or an error's
            return dict(self.svc.ask(text, conversation_id=conv, channel=channel or "eval"))
        except AgentInputError as e:
            return {"answer": "", "tool_calls": [], "error": str(e)}
        except Exception as e:  # noqa: BLE001 - one crashing turn fails its case, not the run
            return {"answer": "", "tool_calls": [], "error": f"the turn crashed: {type(e).__name__}: {e}"}

    def _signin(self, facts: dict) -> dict:
        from agent.support import AuthError

        cid = facts.pop("customer_id", "")
        try:
            s = self.desk.start(cid, facts)
            return {
                "signed_in": True,
                "token": s["token"],
                "answer": "",
                "tool_calls": [],
                "facts": {"customer_id": cid, **facts},
            }
        except AuthError as e:
            return {"signed_in": False, "error": str(e), "answer": "", "tool_calls": [], "facts": {"customer_id": cid, **facts}}

    def _facts(self, cid: str) -> dict:
        """A fact the desk accepts for this customer, read from the workspace (as the customer would know it)."""
        row = self.ws.query("SELECT email, zip FROM customers WHERE customer_id = ?", [cid])
        if row and row[0]["email"]:
            return {"email": row[0]["email"]}
        if row and row[0]["zip"]:
            return {"zip": row[0]["zip"]}
        d = self.ws.query(
            "SELECT order_date AS d, total FROM orders WHERE customer_id = ? ORDER BY order_date, order_id LIMIT 1", [cid]
        )
        if not d or d[0]["d"] is None:
            raise SuiteError(f"customer {cid!r} has no email, zip or order to sign in with")
        return {"order_date": str(d[0]["d"]), "order_total": f"{d[0]['total']:.2f}"}

    def _value(self, v):
        return str(self.sql(v.sql)) if hasattr(v, "sql") else str(v)

    @staticmethod
    def _trace(said: str, reply: dict, latency: float, checks: list[Check]) -> dict:
        return {
            "user": said,
            "answer": reply.get("answer", ""),
            "tools": tools_called(reply),
            "tool_calls": [
                {
                    "name": c["name"],
                    "args": c.get("args"),
                    "error": c.get("error"),
                    "summary": _short(((c.get("result") or {}).get("summary")), 1200),
                    "data": _short((c.get("result") or {}).get("data")),
                }
                for c in reply.get("tool_calls") or []
            ],
            "sources": [
                {"n": s.get("n"), "kind": s.get("kind"), "ref_id": s.get("ref_id"), "text": (s.get("text") or "")[:300]}
                for s in reply.get("sources") or []
            ],
            "grounded": reply.get("grounded", True),
            "handoff": bool(reply.get("handoff")),
            "refused": bool(reply.get("refused")),
            "pending_action": reply.get("pending_action"),
            "action": reply.get("action"),
            "error": reply.get("error"),
            "latency_s": round(latency, 3),
            "timings": {k: v for k, v in (reply.get("timings") or {}).items() if isinstance(v, (int, float))},
            "checks": [c.to_dict() for c in checks],
        }

    # -- components floors -------------------------------------------------------------------

    def _components_case(self, suite: Suite, case: Case) -> dict:
        from evals.components import component_rows

        rows = [
            r
            for r in component_rows(self.svc.settings.workspace)
            if r["component"] == case.component and r["metric"] == case.metric and (case.data or "") in r["data"]
        ]
        checks = []
        if not rows:
            checks.append(
                Check(
                    "floor",
                    False,
                    f"no {case.component} {case.metric} row{' for ' + case.data if case.data else ''} in the cards",
                )
            )
        lower = case.max is not None and case.min is None
        for r in rows:
            v, b = r["pulse"], r["baseline"]
            if case.min is not None:
                checks.append(Check("floor", v >= case.min, f"{r['data']}: {v:.3f} >= {case.min}"))
            if case.max is not None:
                checks.append(Check("ceiling", v <= case.max, f"{r['data']}: {v:.3f} <= {case.max}"))
            if case.beat_baseline and b is not None:
                ok = v <= b if lower else v >= b
                checks.append(Check("baseline", ok, f"{r['data']}: {v:.3f} vs {r['baseline_name']} {b:.3f}"))
        failed = [f"{c.check}: {c.detail}" for c in checks if not c.ok]
        return {
            "suite": suite.suite,
            "id": case.id,
            "split": case.split,
            "tags": case.tags,
            "persona": "components",
            "passed": not failed,
            "reason": "; ".join(failed),
            "turns": [
                {
                    "user": f"{case.component} {case.metric} {case.data or ''}".strip(),
                    "answer": "; ".join(c.detail for c in checks),
                    "tools": ["none"],
                    "tool_calls": [],
                    "sources": [],
                    "grounded": True,
                    "latency_s": 0.0,
                    "checks": [c.to_dict() for c in checks],
                    "components": True,
                }
            ],
        }


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def totals(results: list[dict]) -> dict:
    """The headline numbers of a run (see the module docstring for each definition)."""
    by_case: dict[tuple, list[bool]] = {}
    for r in results:
        by_case.setdefault((r["suite"], r["id"]), []).append(r["passed"])
    tool, args, answer, grounded, refusal, latency = [], [], [], [], [], []
    for r in results:
        for t in r["turns"]:
            if t.get("components"):
                continue
            kinds: dict[str, list] = {c["check"]: [] for c in t["checks"]}
            for c in t["checks"]:
                kinds[c["check"]].append(c["ok"])
            if "tool" in kinds:
                tool.append(all(kinds["tool"]))
            if "args" in kinds:
                args.append(all(kinds["args"]))
            ans = [ok for k, oks in kinds.items() if k in ANSWER_CHECKS for ok in oks]
            if ans:
                answer.append(all(ans))
            if t["tool_calls"]:
                grounded.append(bool(t["grounded"]))
            ref = [ok for k in ("refused", "handoff") for ok in kinds.get(k, [])]
            if ref:
                refusal.append(all(ref))
            if t.get("latency_s") and not t["user"].startswith("(sign in"):
                latency.append(t["latency_s"])
    lat = np.array(latency) if latency else None
    return {
        "cases": len(by_case),
        "runs": len(results),
        "passed": sum(r["passed"] for r in results),
        "pass_rate": _rate([r["passed"] for r in results]),
        "pass_k": _rate([all(v) for v in by_case.values()]),
        "tool_accuracy": _rate(tool),
        "arg_accuracy": _rate(args),
        "answer_accuracy": _rate(answer),
        "grounding_rate": _rate(grounded),
        "refusal_accuracy": _rate(refusal),
        "latency_p50_s": round(float(np.percentile(lat, 50)), 2) if lat is not None else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 2) if lat is not None else None,
    }


def _case_result(suite: Suite, case: Case, persona: str, failed: list[str], turns: list[dict]) -> dict:
    """One case's record in a run: passed when nothing failed, the failures joined as its reason."""
    return {
        "suite": suite.suite,
        "id": case.id,
        "split": case.split,
        "tags": case.tags,
        "persona": persona,
        "passed": not failed,
        "reason": "; ".join(failed),
        "turns": turns,
    }
