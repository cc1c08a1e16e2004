"""The eval harness: suite files, checks, the runner through the real agent core, reports, CI smoke.

What was tried here: malformed suites (bad YAML, unknown field, missing customer,
duplicate ids, a number with neither value nor SQL); answers that state the wrong
number, call the wrong tool, cite nothing; a floor that cannot be met (non-zero
exit); two runs compared; the HTML report filtered in a real browser.
"""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLUMBING_MODEL

from evals.report import compare, load_run
from evals.runner import totals
from evals.suite import REFUSAL, Expect, SuiteError, check_turn, load_suite
from pulse.lang import language_of
from tools import REGISTRY, SUPPORT_TOOLS

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "evals" / "suites"
SMOKE_FLOOR = 0.6  # the plumbing model on the CI workspace; the smoke cases are mostly code policy and routing


def pulse(*args, env=None, timeout=900):
    import os

    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=ROOT,
    )


# -- the shipped suites ----------------------------------------------------------------------------


def _tools(expect) -> set[str]:
    t = expect.tool
    return set() if t is None else {t} if isinstance(t, str) else set(t)


def test_shipped_suites_cover_what_each_is_for():
    suites = {p.stem: load_suite(p) for p in SUITES.glob("*.yaml")}
    assert set(suites) >= {"analyst", "shopper", "support", "chitchat", "components"}
    analyst = suites["analyst"]
    assert len(analyst.cases) >= 60
    called = {t for c in analyst.cases for turn in c.turns for t in _tools(turn.expect)}
    assert set(REGISTRY) <= called, f"analyst tools with no case: {set(REGISTRY) - called}"
    assert sum(len(c.turns) > 1 for c in analyst.cases) >= 5, "follow-ups"
    assert sum("dates" in c.tags for c in analyst.cases) >= 8 and any("relative-date" in c.tags for c in analyst.cases)
    numbers = [t.expect.number for c in analyst.cases for t in c.turns if t.expect.number]
    assert len(numbers) >= 15 and all(n.sql and n.value is None for n in numbers), "expected numbers come from SQL"
    support_tags = {tag for c in suites["support"].cases for tag in c.tags}
    assert support_tags >= {"auth", "orders", "policy", "handoff", "cross-customer", "injection", "action"}
    assert suites["support"].setup, "an injection planted in a review"
    support_called = {t for s in ("support", "shopper") for c in suites[s].cases for turn in c.turns for t in _tools(turn.expect)}
    assert set(SUPPORT_TOOLS) - {"handoff"} <= support_called
    chit = suites["chitchat"]
    assert all(_tools(t.expect) == {"none"} for c in chit.cases for t in c.turns)
    assert sum(c.note is not None and "chitchat-dataset" in c.note for c in chit.cases) >= 20
    for name in ("analyst", "shopper", "support", "chitchat"):
        splits = [c.split for c in suites[name].cases]
        assert splits.count("dev") >= 5 and splits.count("test") >= 5, name


def test_the_readme_example_suite_is_the_shipped_file_and_loads():
    example = ROOT / "evals" / "example.yaml"
    suite = load_suite(example)
    assert suite.setup and {c.persona or suite.persona for c in suite.cases} == {"analyst", "support"}
    body = example.read_text().split("\n", 1)[1]  # the file's first line is a comment
    assert body in (ROOT / "README.md").read_text()


def test_no_eval_question_appears_in_the_agent_code_or_prompts():
    """Suites are data: a question copied into a prompt, a router example or a tool would be a special case."""
    code = "\n".join(
        p.read_text().lower()
        for d in ("agent", "tools", "bots", "pulse", "retrieval")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".py", ".md", ".yaml", ".jsonl") and p.is_file()
    )
    questions = {
        t.user.strip().lower()
        for p in SUITES.glob("*.yaml")
        for c in load_suite(p).cases
        for t in c.turns
        if t.user and len(t.user.strip()) > 20
    }
    copied = sorted(q for q in questions if q in code)
    assert not copied, f"eval questions found in the agent's code or prompts: {copied}"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("suite: x\ncases: [", "not valid YAML"),
        ("suite: x\ncases:\n- id: a\n  turns: [{user: hi, expect: {tool: none, colour: red}}]", "[a].turns.0.expect.colour"),
        ("suite: x\npersona: support\ncases:\n- id: b\n  turns: [{user: hi}]", "needs `customer`"),
        ("suite: x\ncases:\n- {id: a, turns: [{user: hi}]}\n- {id: a, turns: [{user: ho}]}", "appears twice"),
        ("suite: x\ncases:\n- id: n\n  turns: [{user: hi, expect: {number: {tol: 1}}}]", "exactly one of value or sql"),
        ("suite: x\ncases:\n- id: t\n  turns: [{expect: {tool: none}}]", "exactly one of user"),
    ],
)
def test_malformed_suites_are_refused_with_the_case_and_field(tmp_path, text, problem):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(SuiteError) as e:
        load_suite(f)
    assert problem in str(e.value) and "bad.yaml" in str(e.value)


# -- the checks ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sql(trained_ws):
    from workspace import Workspace

    ws = Workspace.open(trained_ws, read_only=True)
    yield lambda q: next(iter(ws.query(q)[0].values()))
    ws.close()


def test_checks_pass_a_right_answer_and_fail_a_wrong_one_against_real_sql(sql):
    n = sql("SELECT count(*) FROM orders WHERE customer_id = '42'")
    first = sql("SELECT min(order_date) FROM orders WHERE customer_id = '42'")
    spend = sql("SELECT sum(total) FROM orders WHERE customer_id = '42'")
    exp = Expect.model_validate(
        {
            "tool": "shop_lookup",
            "args": {"id": {"equals": "42"}, "entity": {"one_of": ["customer", "orders"]}},
            "number": {"sql": "SELECT sum(total) FROM orders WHERE customer_id = '42'", "tol": 0.01},
            "contains": [{"sql": "SELECT CAST(min(order_date) AS VARCHAR) FROM orders WHERE customer_id = '42'"}],
            "cites": True,
            "grounded": True,
            "latency_s": 10,
        }
    )
    call = {"name": "shop_lookup", "args": {"id": "42", "entity": "customer"}}
    good = {
        "answer": f"Customer 42 placed {n} orders, the first on {first}, and spent ${spend:,.2f} in total [1].",
        "tool_calls": [call],
        "sources": [{"n": 1, "kind": "review", "ref_id": "r1"}],
        "grounded": True,
    }
    checks = check_turn(exp, good, sql, latency_s=3.0)
    assert [c.check for c in checks] == ["tool", "args", "contains", "number", "cites", "grounded", "latency"]
    assert all(c.ok for c in checks), [c.to_dict() for c in checks if not c.ok]

    bad = {
        "answer": f"Customer 42 spent ${spend + 5:,.2f}.",
        "grounded": False,
        "sources": [],
        "tool_calls": [{"name": "sql_query", "args": {"sql": "SELECT 1"}}],
    }
    failed = {c.check: c.detail for c in check_turn(exp, bad, sql, latency_s=30.0) if not c.ok}
    assert set(failed) == {"tool", "args", "contains", "number", "cites", "grounded", "latency"}
    assert f"expected {spend:g}" in failed["number"] and "called sql_query" in failed["tool"]


@pytest.mark.parametrize(
    "rule, value, ok",
    [
        ({"equals": "42"}, "#42 ", False),
        ({"equals": "42"}, " 42", True),
        ({"contains": "dress"}, "Summer Dresses", True),
        ({"one_of": ["review", "post"]}, "any", False),
        ({"range": [1, 10]}, 12, False),
        ({"range": [1, 10]}, "7", True),
        ({"matches": "^2016"}, "2016-01-01", True),
        ({"matches": "^2016"}, "2015-12-31", False),
        ({"absent": True}, None, True),
        ({"absent": True}, "x", False),
    ],
)
def test_argument_rules(rule, value, ok):
    exp = Expect.model_validate({"args": {"a": rule}})
    args = {} if value is None else {"a": value}
    reply = {"answer": "", "tool_calls": [{"name": "t", "args": args}]}
    assert check_turn(exp, reply, None)[0].ok is ok


def test_citations_refusals_and_handoffs():
    reply = {
        "answer": "Returns are accepted within 30 days [2].",
        "tool_calls": [{"name": "shop_policy", "args": {}}],
        "sources": [{"n": 1, "kind": "help", "ref_id": "shipping"}, {"n": 2, "kind": "help", "ref_id": "returns"}],
    }
    assert check_turn(Expect(cites="help:returns"), reply, None)[0].ok
    assert not check_turn(Expect(cites="help:shipping"), reply, None)[0].ok  # listed, but not the one cited
    assert REFUSAL.search("I cannot share another customer's orders.") and not REFUSAL.search("Your order shipped.")
    assert REFUSAL.search("The tool failed: only SELECT queries are allowed (got DELETE).")
    desk = {"answer": "Of course.", "tool_calls": [], "handoff": True}
    assert [c.ok for c in check_turn(Expect(handoff=True, tool="none", refused=False), desk, None)] == [True, True, True]


def test_totals_pass_k_counts_a_case_only_if_every_repeat_passed():
    def run(case, rep, passed, tool_ok=True):
        return {
            "suite": "s",
            "id": case,
            "repeat": rep,
            "split": "dev",
            "passed": passed,
            "turns": [
                {
                    "user": "q",
                    "tool_calls": [{"name": "x"}],
                    "grounded": passed,
                    "latency_s": 1.0 + rep,
                    "checks": [{"check": "tool", "ok": tool_ok}, {"check": "number", "ok": passed}],
                }
            ],
        }

    t = totals([run("a", 0, True), run("a", 1, True), run("b", 0, True), run("b", 1, False, tool_ok=False)])
    assert t["pass_rate"] == 0.75 and t["pass_k"] == 0.5 and t["cases"] == 2 and t["runs"] == 4
    assert t["tool_accuracy"] == 0.75 and t["answer_accuracy"] == 0.75 and t["grounding_rate"] == 0.75
    assert t["latency_p50_s"] == 1.5 and t["arg_accuracy"] is None


# -- the runner, end to end: the CI smoke ---------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke(trained_ws, tmp_path_factory):
    """``pulse eval`` on the smoke cases of every conversation suite, as CI runs it (plumbing model, floor)."""
    ws = tmp_path_factory.mktemp("evalws") / "ws"
    shutil.copytree(trained_ws, ws)
    reviews_before = _count(ws, "reviews")
    reports = tmp_path_factory.mktemp("runs")
    r = pulse(
        "--workspace",
        str(ws),
        "eval",
        *(str(SUITES / f"{n}.yaml") for n in ("analyst", "support", "chitchat")),
        "--tag",
        "smoke",
        "--model",
        PLUMBING_MODEL,
        "--report",
        str(reports),
        "--fail-under",
        str(SMOKE_FLOOR),
        env={"PULSE_MAX_TOKENS": "96"},
    )
    return {"ws": ws, "reports": reports, "proc": r, "reviews_before": reviews_before}


def _count(ws: Path, table: str) -> int:
    from workspace import Workspace

    with Workspace.open(ws, read_only=True) as w:
        return w.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_smoke_suite_passes_its_floor_and_writes_every_report(smoke):
    r = smoke["proc"]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    folder = Path(r.stdout.split("report: ")[1].split("/report.html")[0])
    run = json.loads((folder / "run.json").read_text())
    t = run["totals"]
    assert t["pass_rate"] >= SMOKE_FLOOR and t["cases"] == len(run["cases"]) >= 8
    assert set(run["by_suite"]) == {"analyst", "support", "chitchat"} and run["model"] == PLUMBING_MODEL
    assert t["tool_accuracy"] is not None and t["refusal_accuracy"] is not None and t["latency_p95_s"] > 0
    # every case carries its full trace: each turn's message, tool calls with arguments, answer and checks
    for c in run["cases"]:
        assert c["passed"] == (c["reason"] == "")
        for turn in c["turns"]:
            assert {"user", "answer", "tool_calls", "checks", "latency_s"} <= set(turn)
    calls = [call for c in run["cases"] for turn in c["turns"] for call in turn["tool_calls"]]
    assert calls and all(call["name"] in REGISTRY or call["name"] in SUPPORT_TOOLS for call in calls)
    assert all(isinstance(call["args"], dict) and ("summary" in call and "data" in call) for call in calls)
    cross = next(c for c in run["cases"] if c["id"] == "cross-customer-order")
    assert cross["passed"] and cross["turns"][0]["refused"], cross
    # the markdown and the HTML say the same totals; the conversations are in the run's own log
    md = (folder / "report.md").read_text()
    assert f"| **all** | {t['cases']} | {t['runs']} | {t['pass_rate']:.3f}" in md
    page = (folder / "report.html").read_text()
    assert all(f">{c['id']}<" in page for c in run["cases"]) and "id=q" in page
    with sqlite3.connect(folder / "conversations.sqlite") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] >= 2 * sum(
            len([x for x in c["turns"] if not x["user"].startswith("(sign in")])
            for c in run["cases"]
            if c["persona"] == "analyst"
        )


def test_setup_rows_go_to_a_scratch_copy_never_the_workspace(smoke):
    assert smoke["proc"].returncode == 0
    assert _count(smoke["ws"], "reviews") == smoke["reviews_before"]
    assert not list(smoke["reports"].glob(".scratch-*")) and not list(smoke["reports"].glob(".running-*"))


def test_html_report_filters_in_a_browser(smoke):
    from playwright.sync_api import sync_playwright

    folder = sorted(p for p in smoke["reports"].iterdir() if (p / "report.html").is_file())[0]
    run = json.loads((folder / "run.json").read_text())
    n_fail = sum(not c["passed"] for c in run["cases"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto((folder / "report.html").as_uri())
        assert page.locator("tr.case:visible").count() == len(run["cases"])
        page.select_option("#status", "fail")
        assert page.locator("tr.case:visible").count() == n_fail
        page.select_option("#status", "")
        page.select_option("#suite", "chitchat")
        assert page.locator("tr.case:visible").count() == sum(c["suite"] == "chitchat" for c in run["cases"])
        page.select_option("#suite", "")
        page.fill("#q", "cross-customer-order")
        assert page.locator("tr.case:visible").count() == 1
        browser.close()


def test_compare_shows_what_changed_between_two_runs(smoke, tmp_path):
    folder = sorted(p for p in smoke["reports"].iterdir() if (p / "run.json").is_file())[0]
    a = json.loads((folder / "run.json").read_text())
    b = json.loads(json.dumps(a))
    flip = next(c for c in b["cases"] if c["passed"])
    flip.update(passed=False, reason="turn 1 tool: called none; expected search_corpus")
    b.update(run_id=a["run_id"] + "-b", model="another-model", totals=totals(b["cases"]))
    (smoke["reports"] / b["run_id"]).mkdir()
    (smoke["reports"] / b["run_id"] / "run.json").write_text(json.dumps(b))
    r = pulse("eval", "--report", str(smoke["reports"]), "--compare", a["run_id"], "latest")
    assert r.returncode == 0, r.stderr
    assert "## Now failing (1)" in r.stdout and f"{flip['suite']}/{flip['id']}" in r.stdout
    assert (
        "another-model" in r.stdout
        and f"| pass rate | {a['totals']['pass_rate']:.3f} | {b['totals']['pass_rate']:.3f}" in r.stdout
    )
    assert load_run("previous", smoke["reports"])["run_id"] == a["run_id"]
    assert "Now passing (1)" in compare(b, a)
    r = pulse("eval", "--report", str(smoke["reports"]), "--compare", "nope", "latest")
    assert r.returncode == 1 and "no single run 'nope'" in r.stderr


def test_component_floors_fail_the_exit_code_with_the_reason(trained_ws, tmp_path):
    floors = tmp_path / "floors.yaml"
    floors.write_text(
        "suite: floors\nkind: components\ncases:\n"
        "- {id: churn-real, component: churn, metric: AUC, min: 0.5}\n"
        "- {id: churn-impossible, component: churn, metric: AUC, min: 1.01}\n"
        "- {id: recall-vs-popularity, component: recommendation, metric: recall@10, beat_baseline: true}\n"
    )
    r = pulse(
        "--workspace",
        str(trained_ws),
        "eval",
        str(floors),
        "--model",
        PLUMBING_MODEL,
        "--report",
        str(tmp_path / "r"),
        "--fail-under",
        "1.0",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL floors/churn-impossible: floor:" in r.stdout and ">= 1.01" in r.stdout
    assert "FAIL floors/churn-real" not in r.stdout and "below --fail-under 1.0" in r.stderr


def test_bad_suite_file_exits_2_and_names_the_problem(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("suite: s\ncases:\n- id: only\n  turns: [{user: hi, expect: {tool: none, grounded: maybe}}]\n")
    r = pulse("eval", str(f), "--report", str(tmp_path / "r"))
    assert r.returncode == 2 and "[only].turns.0.expect.grounded" in r.stderr
    r = pulse("eval", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "no such suite file" in r.stderr
    r = pulse("eval")
    assert r.returncode == 2 and "name one or more suite files" in r.stderr


def test_the_lang_check_reads_the_answer_not_its_quotes():
    exp = Expect.model_validate({"lang": "zh"})
    zh = {"answer": "评论摘录:\n[1] “The breakfast was cold”\n\n大家普遍认为早餐种类少 [1]。"}
    en = {"answer": "评论摘录:\n[1] “早餐很差，种类少”\n\nGuests found the breakfast poor [1]."}
    assert [c.ok for c in check_turn(exp, zh, None)] == [True]
    assert [c.ok for c in check_turn(exp, en, None)] == [False]
    assert REFUSAL.search("做不到:Pulse 只读取这个工作区的数据") and not REFUSAL.search("1997年的订单数:56,902。")


def test_the_chinese_suite_has_both_splits_and_asks_for_chinese_answers():
    suite = load_suite(Path("evals/suites/chinese.yaml"))
    assert {c.split for c in suite.cases} == {"dev", "test"}
    assert sum(any(t.expect.lang == "zh" for t in c.turns) for c in suite.cases) >= len(suite.cases) // 2
    assert all(language_of(c.turns[0].user or "") == "zh" for c in suite.cases)
