"""Real Chromium through an edge held in attack mode: a browser edge does not know gets the puzzle
page, whose script solves it and reloads into the exchange; once someone logs in, the page's
session ticket takes their page loads past the puzzle, and without it the puzzle is back.

Known addresses and solved puzzles are forgotten after 3 s here, so that what lets a page load
through can only be the ticket."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from stockade.keys import PublicKey
from stockade.wire import TICKET_COOKIE, parse_ticket, verify_ticket
from tests.browser import ARTIFACTS, chromium
from tests.edge.edges import edge_directory, edge_running
from tests.live import LiveSite, running_site

FORGET_S = 3
HELD = f'attack = "on"\npow_start_bits = 8\npow_max_bits = 8\nknown_s = {FORGET_S}\n'
HELD += f"pow_grace_s = {FORGET_S}\n"


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, str]]:
    with running_site(tmp_path_factory.mktemp("edge-browser") / "site") as site:
        web_port = int(site.web.rsplit(":", 1)[1])
        with edge_running(edge_directory(site, web_port, "edge-held", HELD)) as url:
            yield site, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _load(page: Page, url: str) -> int:
    """The status of the first answer to a page load; then wait for the page's script."""
    response = page.goto(url)
    assert response is not None
    expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=20_000)
    return response.status


def _ticket_cookie(context: BrowserContext) -> str | None:
    values = [c.get("value") for c in context.cookies() if c.get("name") == TICKET_COOKIE]
    return values[0] if values else None


def test_the_puzzle_page_solves_itself_and_a_session_ticket_passes_it(
    attacked: tuple[LiveSite, str], browser: Browser
) -> None:
    site, url = attacked
    context = browser.new_context()
    page = context.new_page()
    assert _load(page, url + "/signup") == 429  # the puzzle page, which solved and reloaded
    page.screenshot(path=str(ARTIFACTS / "edge-after-puzzle.png"))
    assert page.title() != "One moment"
    page.fill("#auth-username", "tess.t")
    page.fill("#auth-password", "a long enough password")
    page.click("#auth-submit")
    page.wait_for_url(url + "/")
    expect(page.locator("#username")).to_have_text("tess.t")

    text = _ticket_cookie(context)
    assert text is not None
    ticket = parse_ticket(text)
    assert verify_ticket(PublicKey(ticket.key), site.site.core_key, ticket)
    assert abs(ticket.ts - time.time() * 1000) < 10_000

    time.sleep(FORGET_S + 0.5)  # the address and the puzzle are forgotten: only the ticket
    assert _load(page, url + "/account") == 200
    expect(page.locator("#username")).to_have_text("tess.t")

    context.clear_cookies(name=TICKET_COOKIE)
    time.sleep(FORGET_S + 0.5)
    assert _load(page, url + "/account") == 429  # the puzzle again, solved, then the page
    expect(page.locator("#username")).to_have_text("tess.t")
    assert _ticket_cookie(context) is not None  # and the page made a new ticket

    page.click("#logout")
    page.wait_for_url(url + "/")
    expect(page.locator("body[data-ready='1']")).to_be_attached()
    assert _ticket_cookie(context) is None
    context.close()
