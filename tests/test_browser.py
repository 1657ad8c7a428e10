"""The chat in a real headless Chromium against a real server on the real model.

The session's live server (`server_url`, tests/conftest.py) serves the bundled archive plus
one hostile document, built with the bundled all-MiniLM-L6-v2, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import re

import pytest
import uvicorn
from archives import LIGHTHOUSE_TITLE
from http_helpers import free_port, running
from playwright.sync_api import Page, expect

from qa.answer.calibration import calibration_for
from qa.mcp.http import serving_app
from qa.service.assistant import Assistant
from qa.web.server import server_config

pytestmark = pytest.mark.browser

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
QUESTION = "When was the national strike scheduled?"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="module")
def doubtful_server_url(live_archive, real_embedder):
    """The live archive served with a calibration under which no answer is sure enough to be
    'answered': every answer the refusal rules let through is 'uncertain'."""
    settings, _ = live_archive
    settings = settings.model_copy(update={"port": free_port()})
    fitted = calibration_for(settings, real_embedder.backend)
    doubtful = Assistant(
        settings, real_embedder, fitted.model_copy(update={"answered_probability": 1.0})
    )
    with running(uvicorn.Server(server_config(serving_app(settings, doubtful), settings))):
        yield f"http://127.0.0.1:{settings.port}"


def ask(page: Page, question: str, turn: int) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator(f"#t{turn} .answer:not(.loading)")).to_be_visible(timeout=20_000)


def test_ask_see_the_citation_and_open_the_passage(page: Page, server_url):
    page.goto(server_url + "/")
    box = page.locator("#question")
    expect(box).to_be_focused()

    # Shift+Enter is a new line, not a send.
    box.fill("first line")
    box.press("Shift+Enter")
    assert box.input_value() == "first line\n"
    expect(page.locator(".turn")).to_have_count(0)

    # Hold the answer back to see the loading state. Playwright delivers the route of a
    # request after its request event and before the replies to later calls, so once the
    # request is seen and the page has been asked anything, the route is held here.
    sent = []
    page.on("request", lambda request: sent.append(request) if "/api/ask" in request.url else None)
    held = []
    page.route("**/api/ask", lambda route: held.append(route))
    box.fill(QUESTION)
    with page.expect_request("**/api/ask"):
        box.press("Enter")
    expect(page.locator("#t1 .answer.loading")).to_be_visible()
    expect(page.locator("#send")).to_be_disabled()
    expect(box).to_be_focused()
    assert len(held) == 1
    held[0].continue_()

    answer = page.locator("#t1 .answer")
    expect(answer).not_to_have_class(re.compile("loading"), timeout=20_000)
    expect(answer).not_to_have_class(re.compile("abstained"))
    expect(page.locator("#t1 .question-text")).to_have_text(QUESTION)
    expect(answer.locator(".answer-text")).to_contain_text("December 15")
    expect(answer.locator(".cite").first).to_have_text("[1]")
    card = answer.locator(".card").first
    expect(card.locator(".card-title")).to_contain_text("Peru")
    expect(card.locator(".card-meta")).to_contain_text("Dec 2022")
    expect(card.locator("mark").first).to_contain_text("December 15")
    expect(box).to_be_focused()
    expect(page.locator("#send")).to_be_enabled()
    assert len(sent) == 1  # one question, one request, from the press to the rendered answer

    # The marker leads to its card; the card's link opens the document at the passage.
    answer.locator(".cite").first.click()
    assert page.url.endswith("#t1-c1")
    highlighted = card.locator("mark").first.inner_text()
    card.locator(".open").click()
    page.wait_for_url(re.compile(r"/documents/.+#p\d+$"))
    passage = page.locator(".seg.hl")
    expect(passage.first).to_be_visible()
    expect(passage.first).to_be_in_viewport()
    assert highlighted in " ".join(passage.all_inner_texts()).replace("\n", " ")
    expect(page.locator("h1")).to_contain_text("Peru")


def test_a_follow_up_is_sent_with_the_conversation(page: Page, server_url):
    page.goto(server_url + "/")
    ask(page, QUESTION, 1)
    first_answer = page.locator("#t1 .answer-text").inner_text()
    with page.expect_request("**/api/ask") as request:
        ask(page, "Which unions supported the strike?", 2)
    sent = request.value.post_data_json
    assert sent["question"] == "Which unions supported the strike?"
    assert [turn["question"] for turn in sent["history"]] == [QUESTION]
    assert "December 15" in sent["history"][0]["answer"]
    assert "December 15" in first_answer
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator("#t1 .card").first).to_be_visible()
    expect(page.locator("#t2 .card").first).to_be_visible()
    expect(page.locator("#question")).to_have_attribute("placeholder", "Ask a follow-up…")


def test_the_archive_says_plainly_when_it_does_not_answer(page: Page, server_url):
    page.goto(server_url + "/")
    ask(page, "What is the capital of France?", 1)
    answer = page.locator("#t1 .answer")
    expect(answer).to_have_class(re.compile("abstained"))
    expect(answer.locator(".answer-text")).to_contain_text("The archive does not say.")
    expect(answer.locator(".badge").first).to_have_text("Not an answer")


def test_an_uncertain_answer_is_shown_apart_from_an_answer(
    browser, server_url, doubtful_server_url
):
    for javascript in (True, False):  # chat.js and the page the server renders alike
        context = browser.new_context(java_script_enabled=javascript)
        page = context.new_page()
        try:
            verdicts = {}
            for url in (server_url, doubtful_server_url):
                page.goto(url + "/")
                page.fill("#question", QUESTION)
                page.press("#question", "Enter") if javascript else page.click("#send")
                answer = page.locator("#t1 .answer:not(.loading)")
                expect(answer).to_be_visible(timeout=20_000)
                expect(answer.locator(".answer-text")).to_contain_text("December 15")
                expect(answer.locator(".confidence")).to_have_text(re.compile(r"confidence \d+%"))
                verdicts[url] = answer.get_attribute("data-verdict")
                if url == doubtful_server_url:
                    expect(answer).to_have_class(re.compile("uncertain"))
                    expect(answer.locator(".label")).to_contain_text("Maybe not in the archive")
                    expect(answer.locator(".uncertain-note")).to_have_text(
                        "The archive may not answer this; the closest it comes:"
                    )
                    expect(answer.locator(".badge").first).to_have_text("May not answer")
                    closest = answer.locator(".cards-title", has_text="Closest passages")
                    expect(closest).to_have_count(1)
                else:
                    expect(answer).not_to_have_class(re.compile("uncertain"))
                    expect(answer.locator(".uncertain-note")).to_have_count(0)
                    expect(answer.locator(".badge")).to_have_count(0)
                    expect(answer.locator(".label")).to_contain_text("From the archive")
                    expect(answer.locator(".cards-title", has_text="Sources")).to_have_count(1)
            assert verdicts == {server_url: "answered", doubtful_server_url: "uncertain"}
        finally:
            context.close()


def settled(page: Page) -> None:
    """Waits until the page has loaded and every image in it has loaded or failed. A failed
    image fires its error event in the task that marks it complete, so an injected error
    handler would have run by now: a wait on the page's state, not on a clock."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")


def assert_nothing_ran(page: Page, dialogs: list[str], content: str) -> None:
    settled(page)
    assert dialogs == []
    assert page.evaluate("document.body.dataset.pwned") is None
    assert page.locator(f"{content} img, {content} script").count() == 0


def test_injected_scripts_never_run(page: Page, server_url):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server_url + "/")
    question = (
        "What did the lighthouse keeper on Isla Zafiro log? "
        "<img src=x onerror=\"document.body.dataset.pwned='q';alert('q')\">"
        "<script>alert('q2')</script>"
    )
    ask(page, question, 1)
    expect(page.locator("#t1 .question-text")).to_have_text(question)
    titles = page.locator("#t1 .card-title").all_inner_texts()
    assert LIGHTHOUSE_TITLE in titles
    evil_card = page.locator("#t1 .card", has_text="Lighthouse log")
    expect(evil_card.locator(".card-text")).to_contain_text("<img src=x onerror=")
    expect(evil_card.locator(".card-meta")).to_contain_text("<b>Harbour</b> office")
    assert_nothing_ran(page, dialogs, "#t1")

    evil_card.locator(".open").click()
    page.wait_for_url(re.compile(r"/documents/lighthouse\.txt#p\d+$"))
    expect(page.locator("h1")).to_have_text(LIGHTHOUSE_TITLE)
    expect(page.locator(".document-text")).to_contain_text("<script>document.body")
    assert_nothing_ran(page, dialogs, "main")

    page.goto(server_url + "/search?q=lighthouse+keeper")
    expect(page.locator(".card-title").first).to_have_text(LIGHTHOUSE_TITLE)
    assert_nothing_ran(page, dialogs, "main")


def test_the_chat_works_without_javascript(browser, server_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(server_url + "/")
        page.fill("#question", QUESTION)
        page.click("#send")
        page.wait_for_load_state()
        expect(page.locator("#t1 .answer-text")).to_contain_text("December 15")
        expect(page.locator("#t1 .card mark").first).to_be_visible()
        page.fill("#question", "Which unions supported the strike?")
        page.click("#send")
        page.wait_for_load_state()
        expect(page.locator(".turn")).to_have_count(2)
        expect(page.locator("#t1 .question-text")).to_have_text(QUESTION)
        expect(page.locator("#t2 .card").first).to_be_visible()
    finally:
        context.close()


def test_the_timeline_page_lists_dated_events_and_opens_their_passage(page: Page, server_url):
    page.goto(server_url + "/")
    page.get_by_role("navigation").get_by_role("link", name="Timeline").click()
    page.wait_for_url(re.compile(r"/timeline$"))
    events = page.locator(".event")
    expect(events.first).to_be_visible()
    days = page.locator(".event time").evaluate_all("nodes => nodes.map(n => n.dateTime)")
    assert days == sorted(days) and len(days) >= 6
    labels = page.locator(".event time").all_inner_texts()
    for label in ("3 Mar 1998", "2020", "10 Dec 2022", "13 Dec 2022", "15 Dec 2022"):
        assert label in labels
    assembly = events.filter(has_text="Extraordinary National Assembly")
    expect(assembly.locator("mark")).to_have_text("December 10, 2022")
    expect(assembly.locator(".source-count")).to_have_text("1 source")

    page.fill("#q", "national strike")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/timeline\?q=national\+strike"))
    expect(page.locator(".result-count")).to_contain_text("national strike")
    strike = page.locator(".event", has_text="The national strike of December 15")
    expect(strike.locator("time")).to_have_text("15 Dec 2022")
    strike.locator(".event-source").first.click()
    page.wait_for_url(re.compile(r"/documents/.+#p\d+$"))
    passage = page.locator(".seg.hl")
    expect(passage.first).to_be_in_viewport()
    assert "The national strike of December 15" in " ".join(passage.all_inner_texts())


def test_an_answer_shows_its_dates_on_a_mini_timeline(page: Page, server_url):
    page.goto(server_url + "/")
    ask(page, QUESTION, 1)
    mini = page.locator("#t1 .mini-timeline")
    expect(mini).to_be_visible()
    expect(mini.locator("time").first).to_have_text("15 Dec 2022")
    mini.locator(".cite").first.click()
    assert re.search(r"#t1-c\d+$", page.url)

    ask(page, "What happened between 10 and 15 December?", 2)
    answer = page.locator("#t2 .answer")
    expect(answer).not_to_have_class(re.compile("abstained"))
    labels = answer.locator(".mini-event time").all_inner_texts()
    assert labels[:3] == ["10 Dec 2022", "13 Dec 2022", "15 Dec 2022"]
    expect(answer.locator(".answer-text")).to_contain_text("Extraordinary National Assembly")
    expect(answer.locator(".card mark").first).to_be_visible()


def test_the_api_docs_render_under_the_content_security_policy(page: Page, server_url):
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(server_url + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/search")).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/search").click()
    expect(page.locator(".parameters")).to_contain_text("date_from")
    assert refused == []
