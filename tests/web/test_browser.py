"""Two people trade in real Chromium against a running site: they sign up, their session keys are
made in their browsers, an operator funds them, one places an order and the other takes it, and
each sees the trade arrive; one cancels, enters nonsense, and logs out. Screenshots of each main
page go to build/test-artifacts."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from stockade.client import ApiError, HttpApi
from stockade.exchange import Side
from stockade.keys import read_secret
from tests.browser import ARTIFACTS, chromium
from tests.live import LiveSite

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def sign_up(live: LiveSite, page: Page, username: str) -> int:
    page.goto(live.web + "/signup")
    page.fill("#auth-username", username)
    page.fill("#auth-password", PASSWORD)
    page.click("#auth-submit")
    page.wait_for_url(live.web + "/")
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#username")).to_have_text(username)
    account = page.get_attribute("#signed-in", "data-account")
    assert account is not None
    return int(account)


def place(page: Page, side: str, qty: str, price: str) -> str:
    """Fill and submit the order form; the news it then shows (a receipt or a refusal)."""
    receipt = page.locator("#receipt")
    said = int(receipt.get_attribute("data-said") or "0")
    page.check(f"input[name=side][value={side}]")
    page.fill("#qty", qty)
    page.fill("#price", price)
    page.click("#place")
    expect(receipt).to_have_attribute("data-said", str(said + 1))
    return receipt.inner_text()


def test_two_people_trade_in_their_browsers(live: LiveSite, browser: Browser) -> None:
    ann, ben = browser.new_context().new_page(), browser.new_context().new_page()
    accounts = {name: sign_up(live, page, name) for name, page in (("ann.b", ann), ("ben.b", ben))}
    ann.screenshot(path=str(ARTIFACTS / "markets.png"), full_page=True)
    with live.operator() as op:
        op.credit(accounts["ann.b"], "USD", 100_000 * 10**6, "ui-ann-usd")
        op.credit(accounts["ben.b"], "BTC", 10**8, "ui-ben-btc")
    market = live.web + "/markets/BTC-USD"
    ann.goto(market)
    ben.goto(market)
    expect(ann.locator("#balances tr[data-asset=USD]")).to_be_visible()

    resting = place(ann, "buy", "0.001", "61000.10")
    assert resting.startswith("Placed: order"), resting
    assert "signed into the log as entry" in resting
    expect(ann.locator("#open-orders tr")).to_have_count(1)
    expect(ben.locator("#bids tr")).to_have_count(1)  # the book is live for everyone
    expect(ben.locator("#bids tr td").first).to_have_text("61000.10")

    polled: list[str] = []
    ann.on("request", lambda r: polled.append(r.url) if "/api/v1/" in r.url else None)
    taken = place(ben, "sell", "0.001", "61000.10")
    assert "1 trade(s)" in taken, taken
    expect(ann.locator("#my-trades tr")).to_have_count(1)  # ann sees her fill arrive
    expect(ann.locator("#open-orders tr")).to_have_count(0)
    expect(ben.locator("#my-trades tr")).to_have_count(1)
    # the trade reaches ann's page over the stream, from the log: in recent trades and the chart
    expect(ann.locator("#recent-trades tr").first.locator("td").first).to_have_text("61000.10")
    expect(ann.locator("#bids tr")).to_have_count(0)
    expect(ann.locator("#chart")).to_have_attribute("data-candles", "1")
    expect(ann.locator("#chart")).to_have_attribute("aria-label", re.compile("last 61000.10"))
    expect(ann.locator("#balances tr[data-asset=BTC]")).to_be_visible()  # pushed, not polled
    assert polled == []  # ann's page did nothing: all of it came over the stream
    ann.screenshot(path=str(ARTIFACTS / "market.png"), full_page=True)

    # an order to cancel: placed, shown, cancelled, gone
    place(ann, "buy", "0.002", "50000")
    expect(ann.locator("#open-orders tr")).to_have_count(1)
    ann.locator("#open-orders button").click()
    expect(ann.locator("#receipt")).to_contain_text("Cancelled")
    expect(ann.locator("#open-orders tr")).to_have_count(0)

    # nonsense is refused in the page; what the exchange refuses comes back with its name
    assert place(ann, "buy", "abc", "50000") == "enter a number such as 0.01"
    assert place(ann, "buy", "0.000000001", "50000") == "at most 8 decimal places"
    off_lot = place(ann, "buy", "0.0000001", "50000")  # 10 satoshis: not a whole lot
    assert off_lot.startswith("QTY_NOT_MULTIPLE_OF_LOT"), off_lot
    refused = place(ann, "buy", "10", "50000")  # $500,000 of BTC: more than ann has
    assert refused.startswith("INSUFFICIENT_FUNDS"), refused
    expect(ann.locator("#open-orders tr")).to_have_count(0)

    ann.goto(live.web + "/account")  # her statement: the two credits' deposit, and the trade
    lines = ann.locator("#statement tr")
    expect(lines).to_have_count(3)
    expect(lines.nth(0)).to_have_attribute("data-kind", "trade")
    expect(lines.nth(2)).to_have_attribute("data-kind", "deposit")
    bought = ann.locator("#statement tr[data-kind=trade]", has_text="BTC").locator("td.num")
    amount, fee = (Decimal(bought.nth(i).inner_text() or "0") for i in (0, 1))
    assert amount + fee == Decimal("0.001")  # what she bought, the fee paid in it shown apart
    ann.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)

    with live.api("alice") as alice:  # what the browsers did is in the books core keeps
        assert alice.public("/api/v1/markets") is not None
    ann.click("#logout")
    ann.wait_for_url(live.web + "/")
    expect(ann.locator("#login-link")).to_be_visible()
    ann.goto(live.web + "/login")
    ann.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)


def test_two_factor_log_in_in_the_browser(live: LiveSite, browser: Browser) -> None:
    page = browser.new_context().new_page()
    sign_up(live, page, "tia.b")
    page.goto(live.web + "/security")
    expect(page.locator("#totp-state")).to_have_text("off")
    expect(page.locator("#totp-off-form")).to_be_hidden()  # nothing to turn off yet
    page.click("#totp-start")
    expect(page.locator("#totp-secret")).to_have_text(re.compile(r"^[A-Z2-7]{32}$"))
    secret = page.locator("#totp-secret").inner_text()
    drawn = page.evaluate(
        "() => { const c = document.getElementById('totp-qr');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] === 0) dark++;"
        " return [c.width, dark]; }"
    )
    assert drawn[0] >= 29
    assert drawn[1] > 0  # a QR code is drawn: dark modules on light
    page.fill("#totp-on-code", pyotp.TOTP(secret).now())
    page.click("#totp-on")
    expect(page.locator("#totp-news")).to_have_text("Two-factor log-in is on.")
    expect(page.locator("#totp-state")).to_have_text("on")
    expect(page.locator("#totp-setup")).to_be_hidden()

    other = browser.new_context().new_page()
    other.goto(live.web + "/login")
    other.fill("#auth-username", "tia.b")
    other.fill("#auth-password", PASSWORD)
    other.click("#auth-submit")
    expect(other.locator("#auth-error")).to_contain_text("TOTP_REQUIRED")
    expect(other.locator("#auth-totp")).to_be_focused()
    other.fill("#auth-totp", pyotp.TOTP(secret).at(time.time() + 30))  # this step's is spent
    other.click("#auth-submit")
    other.wait_for_url(live.web + "/")
    other.goto(live.web + "/security")
    rows = other.locator("#logins tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("(this browser)")
    expect(rows.nth(1)).to_have_attribute("data-refused", "code_missing")
    expect(rows.nth(2)).to_contain_text("logged in")
    other.screenshot(path=str(ARTIFACTS / "security.png"), full_page=True)


def test_a_wrong_password_is_refused_in_the_page(live: LiveSite, browser: Browser) -> None:
    page = browser.new_context().new_page()
    sign_up(live, page, "cleo.b")
    other = browser.new_context().new_page()
    other.goto(live.web + "/login")
    other.fill("#auth-username", "cleo.b")
    other.fill("#auth-password", "not the right password")
    other.click("#auth-submit")
    expect(other.locator("#auth-error")).to_contain_text("BAD_CREDENTIALS")
    expect(other.locator("#signed-in")).to_be_hidden()


def test_an_api_key_made_in_the_browser_trades_from_python(
    live: LiveSite, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_context(accept_downloads=True).new_page()
    account = sign_up(live, page, "dana.b")
    with live.operator() as op:
        op.credit(account, "USD", 10_000 * 10**6, "ui-dana-usd")
    page.goto(live.web + "/keys")
    expect(page.locator("#keys tr")).to_have_count(1)  # this browser's session
    page.fill("#key-label", "dana-bot")
    page.click("#key-create")
    expect(page.locator("#key-download")).to_be_visible()
    with page.expect_download() as download:
        page.click("#key-download")
    key_file = tmp_path / "dana-bot.key"
    download.value.save_as(key_file)
    key_file.chmod(0o600)
    expect(page.locator("#keys tr")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "keys.png"), full_page=True)

    bot = read_secret(key_file)  # the SDK reads the file the page made
    with HttpApi(live.web, bot, live.site.core_key, log=live.site.log_watcher()) as api:
        receipt = api.place_order("BTC-USD", Side.BUY, 1000, 40_000 * 10**6)
        assert receipt.order_id is not None
        assert api.balances()["USD"][1] == 1000 * 40_000 * 10**6 // 10**8
        api.cancel_order(receipt.order_id)

    elsewhere = browser.new_context().new_page()  # dana logs in on another browser too
    elsewhere.goto(live.web + "/login")
    elsewhere.fill("#auth-username", "dana.b")
    elsewhere.fill("#auth-password", PASSWORD)
    elsewhere.click("#auth-submit")
    elsewhere.wait_for_url(live.web + "/")
    page.reload()
    expect(page.locator("#keys tr")).to_have_count(3)
    page.click("#end-others")
    expect(page.locator("#key-news")).to_have_text("Ended 1 other session(s).")
    expect(page.locator("#keys tr", has_text="ended")).to_have_count(1)
    expect(page.locator("#keys tr", has_text="live (this browser)")).to_have_count(1)
    expect(page.locator("#keys tr", has_text="API key")).to_contain_text("live")

    page.locator(f"#keys tr[data-key='{bot.public.hex()}'] button").click()
    expect(page.locator("#key-news")).to_have_text("Revoked.")
    with HttpApi(live.web, bot, live.site.core_key) as api, pytest.raises(ApiError) as refused:
        api.balances()
    assert refused.value.name == "UnknownSender"


def test_a_receipt_links_to_its_entry_proven_in_the_browser(
    live: LiveSite, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    account = sign_up(live, page, "remy.b")
    with live.operator() as op:
        op.credit(account, "USD", 1_000 * 10**6, "ui-remy-usd")
    page.goto(live.web + "/markets/BTC-USD")
    expect(page.locator("#balances tr[data-asset=USD]")).to_be_visible()
    placed = place(page, "buy", "0.001", "30000")
    assert "signed into the log as entry" in placed
    index = page.locator("#receipt-entry").inner_text()
    page.click("#receipt-entry")
    page.wait_for_url(f"{live.web}/log/{index}")
    state = page.locator("#proof-state")
    expect(state).to_have_attribute("data-proven", "1", timeout=30_000)
    expect(state).to_contain_text(f"entry {index} is in the log")
    expect(page.locator("#says")).to_contain_text("PlaceOrderRequest")
    page.screenshot(path=str(ARTIFACTS / "log-entry.png"), full_page=True)

    def tampered(route: Route) -> None:  # what a lying server or network would do
        answer = route.fetch()
        body = json.loads(answer.body())
        entry = bytearray(base64.b64decode(body["entry"]))
        entry[-1] ^= 1
        body["entry"] = base64.b64encode(bytes(entry)).decode()
        route.fulfill(response=answer, body=json.dumps(body))

    lied_to = browser.new_context().new_page()
    lied_to.route("**/api/v1/log/entries/*", tampered)
    lied_to.goto(f"{live.web}/log/{index}")
    expect(lied_to.locator("#proof-state")).to_have_attribute("data-proven", "0")
    expect(lied_to.locator("#proof-state")).to_contain_text("Not proven")

    def another(route: Route) -> None:  # a real entry with a valid proof, but not this one
        route.fulfill(response=route.fetch(url=f"{live.web}/api/v1/log/entries/0"))

    swapped = browser.new_context().new_page()
    swapped.route(f"**/api/v1/log/entries/{index}", another)
    swapped.goto(f"{live.web}/log/{index}")
    expect(swapped.locator("#proof-state")).to_contain_text("about another entry")


def _with_authenticator(page: Page) -> None:
    """Give the page Chromium's own virtual authenticator: a platform passkey device that
    verifies its user (as a fingerprint would) and keeps discoverable credentials."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def test_a_passkey_made_in_the_browser_logs_in_alone(live: LiveSite, browser: Browser) -> None:
    site = live.web.replace("127.0.0.1", "localhost")  # passkeys are made for a name, not an IP
    page = browser.new_context().new_page()
    _with_authenticator(page)
    page.goto(site + "/signup")
    page.fill("#auth-username", "pia.b")
    page.fill("#auth-password", PASSWORD)
    page.click("#auth-submit")
    page.wait_for_url(site + "/")
    page.goto(site + "/security")
    page.fill("#passkey-name", "laptop")
    page.click("#passkey-add")
    expect(page.locator("#passkey-news")).to_contain_text("Passkey laptop added")
    expect(page.locator("#passkeys tr")).to_have_count(1)
    page.click("#logout")
    page.wait_for_url(site + "/")
    expect(page.locator("#signed-in")).to_be_hidden()

    page.goto(site + "/login")
    page.click("#passkey-login")
    page.wait_for_url(site + "/")
    expect(page.locator("#username")).to_have_text("pia.b")
    page.goto(site + "/security")
    rows = page.locator("#logins tr")
    expect(rows.nth(0)).to_contain_text("(this browser)")
    expect(rows.nth(0)).to_contain_text("logged in with a passkey")
    expect(rows.nth(1)).not_to_contain_text("passkey")  # the sign-up's log-in, by password
    page.screenshot(path=str(ARTIFACTS / "passkeys.png"), full_page=True)

    stranger = browser.new_context().new_page()  # a device that holds no passkey of this site
    _with_authenticator(stranger)
    stranger.goto(site + "/login")
    stranger.click("#passkey-login")
    expect(stranger.locator("#auth-error")).to_contain_text("No passkey answered")
    expect(stranger.locator("#signed-in")).to_be_hidden()

    page.locator("#passkeys tr button").click()
    expect(page.locator("#passkey-news")).to_have_text("The passkey is removed.")
    expect(page.locator("#passkeys tr")).to_have_count(0)
    page.click("#logout")
    page.wait_for_url(site + "/")  # the log-out navigates by itself: let it land first
    page.goto(site + "/login")
    page.click("#passkey-login")  # the device still offers it; core no longer takes it
    expect(page.locator("#auth-error")).to_contain_text("BAD_PASSKEY")
