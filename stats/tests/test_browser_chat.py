"""The dashboard's chat panel in a real browser (Debian's Chromium through Playwright, against
daphne): messages between pages, the anonymous viewer's "Log in to chat", text that is never
HTML, staff deleting a message. The first tests go through the server's chat (stats.live);
the last ones hand frames to the page's socket handler directly, to pin the page's side."""

import json
import re

import pytest

from stats.tests.browser_support import CSP_WATCH, WAIT_MS, XSS_NAMES, account_login, dashboard_open, user_create

pytestmark = pytest.mark.browser

CHAT_TEXTS = "() => Array.from(document.querySelectorAll('#chat-list .chat-text')).map((p) => p.textContent)"


def chat_texts(page) -> list[str]:
    return page.evaluate(CHAT_TEXTS)


def chat_wait_shown(page, text: str) -> None:
    page.wait_for_function(f"(text) => ({CHAT_TEXTS})().includes(text)", arg=text, timeout=WAIT_MS)


def chat_wait_gone(page, text: str) -> None:
    page.wait_for_function(f"(text) => !({CHAT_TEXTS})().includes(text)", arg=text, timeout=WAIT_MS)


def chat_send(page, text: str) -> None:
    page.fill("#chat-input", text)
    page.click("#chat-send")


CHAT_OUTCOME = f"""(text) => {{
  if (({CHAT_TEXTS})().includes(text)) return "shown";
  return document.getElementById("chat-error").textContent || false;
}}"""


def chat_say(page, text: str) -> None:
    """Send `text` and wait until this page shows it. A refusal for sending too fast is
    retried a second later (the server's rate, not this test's, decides); any other fails."""
    for _ in range(20):
        chat_send(page, text)
        outcome = page.wait_for_function(CHAT_OUTCOME, arg=text, timeout=WAIT_MS).json_value()
        if outcome == "shown":
            return
        assert outcome == "You are sending messages too fast: wait a moment.", outcome
        page.wait_for_timeout(1000)
    raise AssertionError(f"{text!r} was refused for sending too fast, 20 times")


def message_item(page, text: str):
    return page.locator("#chat-list .chat-msg").filter(has=page.locator(".chat-text", has_text=text))


def page_new(browser, live, *, init_script: str | None = None):
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    return page


@pytest.fixture
def pages(browser, live, game):
    """Pages open on the game's dashboard: "ada" (logged in through /accounts/login/),
    "anon" (not logged in) and, when asked for, "staff" (logged in, staff)."""
    opened: dict = {}

    def open_page(role: str):
        page = page_new(browser, live, init_script=CSP_WATCH)
        if role != "anon":
            user_create(role, staff=role == "referee")
            account_login(page, role, next_path=f"/games/{game.slug}/")
        dashboard_open(page, game.slug)
        opened[role] = page
        return page

    try:
        yield open_page
    finally:
        for page in opened.values():
            page.context.close()


def test_a_logged_in_user_sends_and_every_page_shows_it(pages):
    ada, anon = pages("ada"), pages("anon")
    chat_say(ada, "good game, everyone")
    for page in (ada, anon):
        chat_wait_shown(page, "good game, everyone")
        item = message_item(page, "good game, everyone")
        assert item.locator(".chat-user").text_content() == "ada"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", item.locator(".chat-time").text_content())
    assert ada.input_value("#chat-input") == ""
    assert ada.locator("#chat-error").text_content() == ""


def test_an_anonymous_viewer_gets_log_in_to_chat_and_no_input(pages, game):
    anon = pages("anon")
    assert anon.locator("#chat-input").count() == 0 and anon.locator("#chat-send").count() == 0
    link = anon.locator("#chat-login")
    assert link.text_content() == "Log in to chat"
    assert link.get_attribute("href") == f"/accounts/login/?next=/games/{game.slug}/"
    user_create("ada")
    link.click()
    anon.fill("#id_username", "ada")
    anon.fill("#id_password", "viewer-pass-123")
    anon.click("form.account-form button[type=submit]")
    anon.locator("#chat-input").wait_for(timeout=WAIT_MS)  # back on the dashboard, now able to chat
    assert anon.url.endswith(f"/games/{game.slug}/")


def test_markup_in_a_message_shows_as_text_and_runs_nothing(pages):
    ada, anon = pages("ada"), pages("anon")
    for text in XSS_NAMES:
        chat_say(ada, text)  # one at a time: the order on the page is the order sent
    for page in (ada, anon):
        chat_wait_shown(page, XSS_NAMES[-1])
        assert chat_texts(page)[-len(XSS_NAMES) :] == XSS_NAMES
        injected = "() => document.querySelectorAll('#chat img, #chat svg, #chat script, #chat b').length"
        assert page.evaluate(injected) == 0
        assert page.evaluate("() => [window.__xss, window.__csp]") == [None, []]


def test_staff_delete_a_message_and_it_goes_from_the_other_pages(pages):
    ada, anon, staff = pages("ada"), pages("anon"), pages("referee")
    chat_say(ada, "spam spam spam")
    chat_say(ada, "a fair remark")
    for page in (ada, anon, staff):
        chat_wait_shown(page, "a fair remark")
    assert ada.locator("#chat-list .chat-delete").count() == 0  # only staff get the buttons
    assert anon.locator("#chat-list .chat-tools").count() == 0
    message_item(staff, "spam spam spam").locator(".chat-delete").click()
    for page in (anon, ada, staff):
        chat_wait_gone(page, "spam spam spam")
        assert "a fair remark" in chat_texts(page)


def test_a_muted_user_is_told_inline_and_keeps_the_text(pages):
    ada, staff = pages("ada"), pages("referee")
    chat_say(ada, "first")
    chat_wait_shown(staff, "first")
    mute = message_item(staff, "first").locator(".chat-mute")
    assert mute.text_content() == "Mute"
    assert message_item(staff, "first").locator(".chat-delete").count() == 1
    mute.click()
    assert mute.text_content() == "Unmute"
    # The staff socket's frames are handled in order: once its next message reaches ada's
    # page, the mute before it is in force.
    chat_say(staff, "ada is muted")
    chat_wait_shown(ada, "ada is muted")
    chat_send(ada, "still here?")
    ada.locator("#chat-error").filter(has_text="muted").wait_for(timeout=WAIT_MS)
    assert ada.locator("#chat-error").text_content() == "You are muted in this game."
    assert ada.input_value("#chat-input") == "still here?"


# ---- the page's side alone: frames handed to the socket handler ----------------------------


def frame_in(page, frame: dict) -> None:
    page.evaluate("(frame) => window.webgame.socket.onFrame(frame)", frame)


def message(id: int, text: str, user: str = "ken") -> dict:
    return {"id": id, "user": user, "text": text, "at_ms": 1_763_000_000_000 + id * 1000}


def test_chat_frames_add_and_remove_messages_and_errors_show_inline(pages):
    ada = pages("ada")
    frame_in(ada, {"type": "chat", "message": message(7, "<b>seven</b>")})
    frame_in(ada, {"type": "chat", "message": message(5, "five")})  # late: goes above 7
    frame_in(ada, {"type": "chat", "message": message(7, "<b>seven</b>")})  # twice: shown once
    assert chat_texts(ada)[-2:] == ["five", "<b>seven</b>"]
    frame_in(ada, {"type": "chat_deleted", "id": 5})
    assert "five" not in chat_texts(ada)
    ada.evaluate("() => { window.webgame.chat.pending = 'too much'; }")  # as if just sent
    frame_in(ada, {"type": "error", "code": "too_long", "message": "at most 500 characters"})
    assert ada.locator("#chat-error").text_content() == "That message is too long."
    assert ada.input_value("#chat-input") == "too much"
    ada.fill("#chat-input", "shorter")  # typing clears the error
    assert ada.locator("#chat-error").text_content() == ""
    assert ada.locator("#chat-input").get_attribute("maxlength") == "500"


def test_load_older_fetches_the_page_before_the_oldest_and_keeps_order(pages, game):
    anon = pages("anon")
    requested: list[str] = []

    def older(route):
        requested.append(route.request.url)
        body = {"messages": [message(1, "one"), message(2, "two")], "before": 1, "more": False}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    anon.route(re.compile(rf"/api/games/{game.slug}/chat\?before=\d+$"), older)
    anon.evaluate(
        "(messages) => window.webgame.chat.snapshot(messages)",
        [message(i, f"m{i}") for i in range(10, 60)],
    )
    button = anon.locator("#chat-older")
    assert button.is_visible()  # a full snapshot: there may be older ones
    button.click()
    anon.wait_for_function(f"() => ({CHAT_TEXTS})()[0] === 'one'", timeout=WAIT_MS)
    assert chat_texts(anon)[:3] == ["one", "two", "m10"]
    assert requested and requested[0].endswith(f"/api/games/{game.slug}/chat?before=10")
    button.wait_for(state="hidden", timeout=WAIT_MS)  # "more": false
