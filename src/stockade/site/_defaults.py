"""The listing a new site starts with: bitcoin against a dollar unit, in integer minor units.

USD is counted to 6 decimals (micro-dollars) so that a 0.00001 BTC lot at a $0.10 tick has an exact
notional (lot * tick = 10**8, a whole multiple of BTC's scale); balances are shown in dollars.
"""

from __future__ import annotations

from stockade.exchange import Asset, Market

BTC = Asset("BTC", 8, 21_000_000 * 10**8)
USD = Asset("USD", 6, 10**17)
BTC_USD = Market(
    code="BTC-USD",
    base="BTC",
    quote="USD",
    lot=1_000,  # 0.00001 BTC
    tick=100_000,  # $0.10 per BTC
    min_qty=1_000,
    max_qty=100 * 10**8,  # 100 BTC per order
    max_price=10_000_000 * 10**6,  # $10,000,000 per BTC
    maker_fee_bps=10,
    taker_fee_bps=20,
)
DEFAULT_ASSETS = (BTC, USD)
DEFAULT_MARKETS = (BTC_USD,)
