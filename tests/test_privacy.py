"""Personal data (workspace/privacy.py): detection with checksums, the import policy, masked answers, forgetting.

Real-looking PII (English and Chinese) is planted in imported posts, reviews and customers of a real
workspace, then looked for in the stored tables, the documents, search results and citations, SQL results,
the answers and the conversation log. Bad input we tried: numbers that fail their checksum (Luhn, IBAN
mod 97, the Chinese ID check digit and birth date), lookalikes (order numbers, times, versions, a bare
"::"), text that is already masked, pseudonymising without a key, forgetting a customer twice.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat

import pytest

from workspace.privacy import find, redact, same_value, token, workspace_key

EMAIL, PHONE, CARD = "ann.lee@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"
IBAN, CN_ID, CN_PHONE = "GB82 WEST 1234 5698 7654 32", "11010519491231002X", "13800138000"
RAW = (EMAIL, PHONE, CARD, IBAN, CN_ID, CN_PHONE, "198.51.100.23")


def _kinds(text: str) -> list[str]:
    return [s.kind for s in find(text)]


def test_each_kind_is_found_and_checked_the_way_its_issuer_defines_it():
    assert _kinds(f"mail {EMAIL}, call {PHONE} or (415) 555-0132") == ["EMAIL", "PHONE", "PHONE"]
    assert _kinds(f"card {CARD}, amex 3782 822463 10005") == ["CARD", "CARD"]
    assert _kinds(f"IBAN {IBAN} / DE89370400440532013000") == ["IBAN", "IBAN"]
    assert _kinds("from 198.51.100.23, then 2001:db8::ff00:42:8329.") == ["IP", "IP"]
    assert _kinds(f"我的手机{CN_PHONE}，身份证号{CN_ID}。") == ["PHONE", "CN_ID"]  # no word boundaries in Chinese
    # checksums and lookalikes: none of these is personal data
    for text in [
        "card 4111 1111 1111 1112",  # fails Luhn
        "IBAN GB83 WEST 1234 5698 7654 32",  # wrong check digits
        "id 110105194912310021",  # wrong check digit
        "id 11010519491331002X",  # month 13
        "order 10234567 delivered 2016-05-01 at 12:30:45, $39.99, size 34DD, 5'4\"",
        "version 1.2.3.4 fixed it; the :: operator",
        "tweet 745304731346702336",
    ]:
        assert _kinds(text) == [], text


def test_policies_mask_pseudonymise_and_keep(tmp_path):
    text = f"call {PHONE} or write {EMAIL}"
    assert redact(text, "mask") == "call [PHONE] or write [EMAIL]"
    assert redact(text, "keep") == text
    with pytest.raises(ValueError, match="key"):
        redact(text, "pseudonymise")
    key = workspace_key(tmp_path)
    assert stat.S_IMODE((tmp_path / "pii_key").stat().st_mode) == 0o600 and workspace_key(tmp_path) == key
    once = redact(text, "pseudonymise", key)
    assert EMAIL not in once and PHONE not in once and once.startswith("call [PHONE:")
    # the same value written another way is the same token, so counts and joins still work; another value is not
    assert token("PHONE", "+44 (20) 7946-0958", key) == token("PHONE", PHONE, key) != token("PHONE", "+44 20 7946 0959", key)
    assert redact(once, "mask") == once  # already masked text is left alone
    assert same_value(token("EMAIL", EMAIL, key), "Ann.Lee@Example.com", tmp_path)
    assert not same_value(token("EMAIL", EMAIL, key), "ann@example.com", tmp_path)
    assert same_value(EMAIL, EMAIL, tmp_path) and not same_value(None, EMAIL, tmp_path)


def _import(ws_path, settings, kind, rows, tmp_path):
    from retrieval import Index
    from tools.imports import import_file
    from workspace import Workspace

    f = tmp_path / f"{kind}.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with Workspace.open(ws_path) as ws:
        import_file(ws, Index.open(ws, settings), kind, f, progress=False)


def _planted(ws_path, settings, tmp_path):
    _import(
        ws_path,
        settings,
        "customers",
        [{"customer_id": "c-pii", "name": "Ann Lee", "email": EMAIL, "zip": "10001"}],
        tmp_path,
    )
    _import(
        ws_path,
        settings,
        "reviews",
        [
            {
                "review_id": "r-pii",
                "product_id": "1078",
                "customer_id": "c-pii",
                "rating": 1,
                "text": f"Refund my card {CARD} now, call {PHONE}.",
            },
            {
                "review_id": "r-pii-zh",
                "product_id": "1078",
                "rating": 1,
                "text": f"质量太差，请打我手机{CN_PHONE}，身份证{CN_ID}。",
            },
        ],
        tmp_path,
    )
    _import(
        ws_path,
        settings,
        "posts",
        [
            {
                "post_id": "p-pii",
                "author": "c-pii",
                "text": f"Wire the refund to {IBAN}, my IP was 198.51.100.23",
                "created_at": "2024-01-02",
            }
        ],
        tmp_path,
    )


def _all_text(ws_path) -> str:
    from workspace import Workspace

    with Workspace.open(ws_path, read_only=True) as ws:
        out = []
        for table in ("customers", "reviews", "posts", "documents"):
            out += [json.dumps(r, default=str) for r in ws.query(f"SELECT * FROM {table}")]
    return "\n".join(out)


@pytest.fixture
def planted_ws(trained_ws, settings_factory, tmp_path):
    """make(policy=None) -> (path, settings): a writable copy of the trained workspace, its privacy policy set
    (when given) before the planted customer, review and post are imported."""

    def make(policy: str | None = None):
        from bots.cli import main

        ws_path = tmp_path / "ws"
        shutil.copytree(trained_ws, ws_path)
        if policy:
            assert main(["--workspace", str(ws_path), "privacy", "--policy", policy]) == 0
        s = settings_factory(ws_path)
        _planted(ws_path, s, tmp_path)
        return ws_path, s

    return make


@pytest.mark.slow
def test_planted_pii_is_masked_in_storage_search_sql_answers_and_the_log(planted_ws, scripted):
    from agent.service import PulseService
    from agent.support import SupportDesk

    writable_ws, s = planted_ws()
    stored = _all_text(writable_ws)
    assert "[CARD]" in stored and "[CN_ID]" in stored and "[IBAN]" in stored and "[PERSON]" in stored
    for raw in RAW + ("Ann Lee",):
        assert raw not in stored, raw  # the default policy is mask; the email is kept only as a keyed hash

    svc = PulseService.open(s, chat_model=scripted([f"Reviewers complain; one asks for a refund at {EMAIL} [1]."] * 3))
    try:
        hits = svc.analyst.index.search("refund my card call me", k=20)
        assert any(h.ref_id == "r-pii" and "[CARD]" in h.text for h in hits)
        sql = svc.analyst.call_tool("sql_query", {"sql": "SELECT email, name FROM customers WHERE customer_id = 'c-pii'"})
        assert EMAIL not in json.dumps(sql.data) and "[EMAIL:" in json.dumps(sql.data) and "[PERSON]" in json.dumps(sql.data)
        # the support desk still verifies the email against its keyed hash
        desk = SupportDesk(svc)
        assert desk.start("c-pii", {"email": "Ann.Lee@example.com"}, client="127.0.0.1")["token"]
        # an answer that repeats personal data (here the scripted generator does) is masked, and so is the log
        q = f"what do reviews say about refunds? my email is {EMAIL}"
        r = svc.ask(q, "c1", channel="web", tool=("search_corpus", {"query": "refund my card", "kind": "review"}))
        assert EMAIL not in json.dumps(r, default=str) and "[EMAIL]" in r["answer"]
        log = sqlite3.connect(writable_ws / "pulse_log.sqlite").execute("SELECT content, question FROM messages").fetchall()
        assert log and EMAIL not in json.dumps(log)
    finally:
        svc.close()


@pytest.mark.slow
def test_keep_policy_stores_as_given_but_the_analyst_sees_masked_unless_allowed(planted_ws, scripted):
    from agent.service import PulseService

    writable_ws, s = planted_ws(policy="keep")
    assert CARD in _all_text(writable_ws) and EMAIL in _all_text(writable_ws)
    for show, expect_raw in ((False, False), (True, True)):
        svc = PulseService.open(
            s.model_copy(update={"show_pii": show}), chat_model=scripted([f"Card {CARD} was charged twice [1]."] * 3)
        )
        try:
            ask = ("search_corpus", {"query": "refund my card call me", "kind": "review"})
            events = list(svc.stream("find reviews about a card charged twice", None, channel="web", tool=ask))
            done = events[-1]["result"]
            seen = json.dumps(done, default=str) + "".join(e.get("text", "") for e in events if e["type"] == "token")
            assert (CARD in seen) is expect_raw, (show, done["answer"])
            if not show:
                assert "[CARD]" in done["answer"] and not [e for e in events if e["type"] == "token"]  # no raw tokens streamed
        finally:
            svc.close()


@pytest.mark.slow
def test_forget_removes_a_customer_everywhere_and_marks_models_stale(planted_ws, tmp_path, capsys):
    from agent.log import Log
    from bots.cli import main
    from retrieval import Index
    from workspace import Workspace

    ws_path, s = planted_ws()
    _import(
        ws_path, s, "orders", [{"order_id": "o-pii", "customer_id": "c-pii", "order_date": "2024-01-03", "total": 12.5}], tmp_path
    )
    with Workspace.open(ws_path, read_only=True) as ws:
        gone_docs = [r["doc_id"] for r in ws.query("SELECT doc_id FROM documents WHERE ref_id IN ('r-pii', 'p-pii')")]
    assert len(gone_docs) == 2
    log = Log(ws_path / "pulse_log.sqlite")
    cid = log.new_conversation("support", customer_id="c-pii")
    log.add_message(cid, "user", "where is my order?")
    other = log.new_conversation("web")
    log.add_message(other, "user", "what did customer c-pii buy?")
    kept = log.add_message(other, "user", "what did customer c-pii2 buy?")  # another id that only starts the same

    assert main(["--workspace", str(ws_path), "forget", "--customer", "c-pii", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("customers", "orders", "reviews", "posts", "documents")} == {
        "customers": 1,
        "orders": 1,
        "reviews": 1,
        "posts": 1,
        "documents": 2,
    }
    assert (
        report["log_conversations"] == 1
        and report["log_messages"] == 2
        and set(report["stale_models"]) >= {"sentiment", "recommender"}
    )
    with Workspace.open(ws_path, read_only=True) as ws:
        assert not ws.query("SELECT 1 FROM customers WHERE customer_id = 'c-pii'")
        assert not ws.query("SELECT 1 FROM orders WHERE customer_id = 'c-pii'")
        assert ws.query("SELECT count(*) AS n FROM reviews WHERE review_id = 'r-pii-zh'")[0]["n"] == 1  # not theirs
        ids = ", ".join(map(str, gone_docs))
        assert not ws.query(f"SELECT 1 FROM embeddings WHERE doc_id IN ({ids})")
        assert not ws.query(f"SELECT 1 FROM doc_sentiment WHERE doc_id IN ({ids})")
        index = Index.open(ws, s)
        assert not set(gone_docs) & set(index._indexed_ids()) and index.ntotal == report["index_vectors"]
    import faiss

    on_disk = faiss.read_index(str(ws_path / "index.faiss"))
    assert on_disk.ntotal == report["index_vectors"]
    rows = Log(ws_path / "pulse_log.sqlite")._rows("SELECT id, content FROM messages")
    assert [r["id"] for r in rows if "c-pii" in r["content"]] == [kept]
    card = json.loads((ws_path / "models" / "recommender.json").read_text())
    assert "c-pii" in card["stale"]
    assert main(["--workspace", str(ws_path), "forget", "--customer", "c-pii"]) == 0
    assert "nothing found" in capsys.readouterr().out


def test_the_dashboard_shows_the_analyst_no_raw_pii_even_when_it_is_stored(settings_factory, tmp_path, scripted):
    from agent.service import PulseService
    from bots.cli import main

    ws_path = tmp_path / "ws"
    s = settings_factory(ws_path)
    assert main(["--workspace", str(ws_path), "privacy", "--policy", "keep"]) == 0
    text = f"Our shop http://198.51.100.23/shop is down again, write to {EMAIL} #outage"
    posts = [
        {"post_id": f"p{i}", "author": f"a{i % 5}", "text": text, "created_at": f"2024-01-{1 + i % 28:02d}"} for i in range(40)
    ]
    _import(ws_path, s, "posts", posts, tmp_path)
    assert "198.51.100.23" in _all_text(ws_path) and EMAIL in _all_text(ws_path)  # keep: stored as given
    svc = PulseService.open(s, chat_model=scripted(["ok"]))
    try:
        snap = svc.rebuild_dashboard()
    finally:
        svc.close()
    # the planted link is one of the dashboard's top entities, masked; nothing raw is shown or stored
    assert "http://[IP]/shop" in [e[0] for e in snap["entities"]], snap["entities"]
    for seen in (json.dumps(snap, default=str), (ws_path / "dashboard.json").read_text()):
        assert "198.51.100.23" not in seen and EMAIL not in seen


_FORGET_CHILD = r"""
import os, signal, sys
from workspace import Workspace
from bots.cli import main

real = Workspace.refresh_documents
def refresh_then_die(self, *a, **kw):
    real(self, *a, **kw)
    os.kill(os.getpid(), signal.SIGKILL)  # the rows and documents are deleted, the transaction not committed
Workspace.refresh_documents = refresh_then_die
main(["--workspace", sys.argv[1], "forget", "--customer", "c-pii"])
"""


@pytest.mark.slow
def test_forget_killed_mid_transaction_loses_nothing_and_can_be_run_again(planted_ws, capsys):
    import signal
    import subprocess
    import sys

    from bots.cli import main
    from retrieval import Index
    from workspace import Workspace

    ws_path, s = planted_ws()

    def theirs() -> dict:
        with Workspace.open(ws_path, read_only=True) as ws:
            n = ws.query(
                "SELECT (SELECT count(*) FROM customers WHERE customer_id = 'c-pii') AS c, "
                "(SELECT count(*) FROM reviews WHERE customer_id = 'c-pii') AS r, "
                "(SELECT count(*) FROM documents WHERE ref_id IN ('r-pii', 'p-pii')) AS d, "
                "(SELECT count(*) FROM documents) AS docs, (SELECT count(*) FROM embeddings) AS vecs"
            )[0]
            assert n["docs"] == n["vecs"]  # documents and stored vectors always agree
            assert Index.open(ws, s).ntotal == n["vecs"]
            return n

    before = theirs()
    assert (before["c"], before["r"], before["d"]) == (1, 1, 2)
    p = subprocess.run([sys.executable, "-c", _FORGET_CHILD, str(ws_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert theirs() == before  # the transaction never committed: all of it is still there, nothing half-deleted
    assert main(["--workspace", str(ws_path), "forget", "--customer", "c-pii"]) == 0  # and forgetting then completes
    after = theirs()
    assert (after["c"], after["r"], after["d"]) == (0, 0, 0) and after["docs"] == before["docs"] - 2
