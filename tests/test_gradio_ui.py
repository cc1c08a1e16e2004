"""The web UI in a real headless Chromium (Debian's, driven by Playwright) against the live server.

Tried here: a question that shows a tool step, an answer and a chart; thumbs up stored with
the question and tool trace; a file with bad rows (error per row, nothing imported); a good
file (rows imported, embedded and searchable); the dashboard. Screenshots of the chat and
the dashboard are saved to tests/artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bots.guard import server_key

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def page(live):
    from playwright.sync_api import sync_playwright

    base, _ = live
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1300, "height": 1000})
        pg.set_default_timeout(240_000)
        pg.goto(base + f"/?key={server_key(live[1].settings)}", wait_until="load")  # the URL `pulse serve` prints
        pg.wait_for_selector("#ask textarea")
        yield pg
        browser.close()


def test_question_shows_tool_step_answer_and_chart(page, live):
    _, svc = live
    page.locator("#ask textarea").fill("What are the main topics in reviews?")
    page.locator("#ask textarea").press("Enter")
    page.wait_for_selector("#chat img")
    chat = page.locator("#chat").inner_text()
    assert "🔧 topics" in chat, chat[:500]
    assert "Sources" in chat
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    conv = svc.log.conversations("web")[0]
    msgs = svc.log.messages(conv["id"])
    assert msgs[-1]["role"] == "assistant" and msgs[-1]["tool_calls"][0]["name"] == "topics"
    assert msgs[-1]["content"].split("\n")[0][:30] in chat


def test_thumbs_up_is_stored_with_question_and_trace(page, live):
    _, svc = live
    before = len(svc.log.feedback())
    page.locator("#chat button[aria-label='Like']").last.click()
    for _ in range(50):
        if len(svc.log.feedback()) > before:
            break
        page.wait_for_timeout(200)
    fb = svc.log.feedback()[-1]
    assert len(svc.log.feedback()) == before + 1 and fb["rating"] == 1
    assert fb["question"] == "What are the main topics in reviews?" and fb["tool_calls"][0]["name"] == "topics"


def _import(page, path: Path, kind: str = "reviews") -> str:
    page.get_by_role("tab", name="Data").click()
    page.locator("#kind input").fill(kind)
    page.locator("#kind input").press("Enter")
    clear = page.locator("#upload button[aria-label='Clear']")
    if clear.count():  # a file from an earlier import is still shown
        clear.first.click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        f"() => document.querySelector('#preview-note') && document.querySelector('#preview-note').innerText.includes('{path.name}')"
    )
    page.locator("#import").click()
    page.wait_for_function("() => /Imported|Nothing was imported/.test(document.querySelector('#import-status').innerText)")
    return page.locator("#import-status").inner_text()


def test_bad_file_shows_row_errors_and_imports_nothing(page, live, tmp_path):
    _, svc = live
    n = svc.analyst.ws.query("SELECT count(*) AS n FROM reviews")[0]["n"]
    bad = tmp_path / "bad_reviews.csv"
    bad.write_text(
        "review_id,product_id,rating,text\nok-1,1078,5,Lovely soft fabric\nbad-2,1078,five stars,Nice\nbad-3,1078,4,\n"
    )
    status = _import(page, bad)
    assert "Nothing was imported" in status
    errors = page.locator("#import-errors").inner_text()
    assert "five stars" in errors and "rating" in errors
    assert svc.analyst.ws.query("SELECT count(*) AS n FROM reviews")[0]["n"] == n
    assert not svc.analyst.ws.query("SELECT * FROM reviews WHERE review_id = 'ok-1'")


def test_good_file_is_imported_and_searchable(page, live, tmp_path):
    _, svc = live
    good = tmp_path / "new_reviews.csv"
    good.write_text(
        "Review ID,Product,Stars,Review Text\n"
        "ui-1,1078,2,The velvet blazer shed purple lint all over my white sofa.\n"
        "ui-2,1078,5,Perfect linen trousers for a humid summer wedding.\n"
    )
    status = _import(page, good)
    assert "Imported 2 rows" in status and "2 documents embedded" in status, status
    hits = svc.analyst.index.search("blazer leaves lint on furniture", k=3)
    assert hits[0].ref_id == "ui-1"
    row = svc.analyst.ws.query("SELECT product_id, rating FROM reviews WHERE review_id = 'ui-2'")[0]
    assert row == {"product_id": "1078", "rating": 5}


def test_dashboard_shows_kpis_and_charts(page, live):
    page.get_by_role("tab", name="Dashboard").click()
    page.wait_for_function(
        "() => document.querySelector('#kpis') && document.querySelector('#kpis').innerText.includes('orders')"
    )
    page.wait_for_function("() => document.querySelectorAll('img').length >= 3")
    text = page.locator("body").inner_text()
    assert "Sentiment of posts over time" in text and "Orders per week and forecast" in text and "Top topics" in text
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_past_conversation_resumes_in_a_new_browser_session(page, live):
    """A fresh tab holds no state: the conversation comes back from the log (what a server restart leaves)."""
    base, svc = live
    context = page.context.browser.new_context(viewport={"width": 1300, "height": 1000})
    fresh = context.new_page()
    fresh.set_default_timeout(120_000)
    fresh.goto(base + f"/?key={server_key(svc.settings)}", wait_until="load")
    fresh.wait_for_selector("#conversations input")
    fresh.locator("#conversations input").click()
    fresh.get_by_role("option", name="What are the main topics in reviews?").click()
    fresh.wait_for_function("() => document.querySelector('#chat').innerText.includes('🔧 topics')")
    chat = fresh.locator("#chat").inner_text()
    answer = svc.log.messages(svc.log.conversations("web")[-1]["id"])[1]["content"]
    assert "What are the main topics in reviews?" in chat and answer.split("\n")[0][:30] in chat
    context.close()
