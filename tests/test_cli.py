"""The `pulse` command, run as a user runs it: a real subprocess on a real workspace."""

import json
import os
import subprocess
import sys


def pulse(*args, env=None, timeout=600):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bots.cli", *args], capture_output=True, text=True, env=e, timeout=timeout)


def test_help_is_fast_and_lists_commands():
    r = pulse("--help")
    assert r.returncode == 0
    for cmd in ("demo", "ingest", "index", "models", "doctor", "ask", "chat"):
        assert cmd in r.stdout


def test_doctor_reports_runtime_and_workspace(demo_ws):
    r = pulse("--workspace", str(demo_ws), "--threads", "1", "doctor")
    assert r.returncode == 0, r.stderr
    assert "xllamacpp" in r.stdout and "threads     1" in r.stdout
    assert "orders" in r.stdout and "69,659" in r.stdout


def test_ingest_bad_file_exits_nonzero_with_row_and_column(writable_ws, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("review_id,text,rating\nr1,ok,4\nr2,meh,lots\n")
    r = pulse("--workspace", str(writable_ws), "ingest", "--kind", "reviews", str(f))
    assert r.returncode == 1
    assert "bad.csv, row 2, column 'rating'" in r.stderr and "nothing was imported" in r.stderr


def test_ingest_good_file_is_searchable(writable_ws, tmp_path):
    f = tmp_path / "good.jsonl"
    f.write_text(json.dumps({"review_id": "cli-1", "text": "The velvet blazer sheds glitter everywhere", "rating": 2}) + "\n")
    r = pulse("--workspace", str(writable_ws), "ingest", "--kind", "reviews", str(f), "--map", "rating=rating")
    assert r.returncode == 0, r.stderr
    assert "1 new" in r.stdout and "1 embedded" in r.stdout
    assert "columns: review_id -> review_id, rating -> rating, text -> text" in r.stdout  # the mapping it used


def test_ask_json_has_the_documented_shape(demo_ws):
    r = pulse("--workspace", str(demo_ws), "--model", "smollm2-135m", "ask", "hello!", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"answer", "tool_calls", "sources", "timings"} and out["answer"]


def test_ask_rejects_a_50kb_message(demo_ws):
    r = pulse("--workspace", str(demo_ws), "--model", "smollm2-135m", "ask", "y" * 50_000)
    assert r.returncode == 2 and "limit is 4,000" in r.stderr


def test_chat_streams_answers_and_keeps_the_session(demo_ws):
    p = subprocess.run(
        [sys.executable, "-m", "bots.cli", "--workspace", str(demo_ws), "--model", "smollm2-135m", "chat"],
        input="hello!\n" + "z" * 5000 + "\n/quit\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("pulse> ") == 2 and "error: the message is 5,000 characters long" in p.stdout
    assert "session " in p.stdout  # the turn summary names the session the next turn continues
