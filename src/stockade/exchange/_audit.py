"""Invariants of an engine's state, checked from the outside.

``audit`` recomputes what the engine keeps incrementally and lists every disagreement. Tests run it
after every command; ``core`` runs it after restoring and ``watch`` will run it in production.
"""

from __future__ import annotations

from collections import Counter

from stockade.exchange._engine import Engine
from stockade.exchange._model import AccountId, Side


def audit(engine: Engine) -> list[str]:
    """Every broken invariant, as a sentence; an empty list means the state is sound."""
    return [
        *_conservation(engine),
        *_no_negative_balances(engine),
        *_holds_match_reservations(engine),
        *_books_sound(engine),
    ]


def _conservation(engine: Engine) -> list[str]:
    totals: Counter[str] = Counter()
    for account in engine.balances.values():
        for asset, cell in account.items():
            totals[asset] += cell.available + cell.held
    problems = []
    for asset in engine.assets:
        total = totals[asset] + engine.fees[asset] + engine.external[asset]
        if total:
            problems.append(f"{asset} does not balance: users + fees + external = {total}")
    return problems


def _no_negative_balances(engine: Engine) -> list[str]:
    return [
        f"user {user} {asset} balance negative: {cell}"
        for user, account in engine.balances.items()
        for asset, cell in account.items()
        if cell.available < 0 or cell.held < 0
    ]


def _holds_match_reservations(engine: Engine) -> list[str]:
    reserved: Counter[tuple[AccountId, str]] = Counter()
    for order in engine.resting_orders():
        ms = engine.markets[order.market]
        if order.side is Side.BUY:
            reserved[order.user, ms.quote] += order.remaining * order.price // ms.scale
        else:
            reserved[order.user, ms.base] += order.remaining
    for w in engine.withdrawals.values():
        reserved[w.user, w.asset] += w.amount
    held = Counter(
        {
            (user, asset): cell.held
            for user, account in engine.balances.items()
            for asset, cell in account.items()
            if cell.held
        }
    )
    return [
        f"user {user} {asset} held {held[user, asset]} but orders and withdrawals reserve "
        f"{reserved[user, asset]}"
        for user, asset in sorted(set(held) | set(reserved))
        if held[user, asset] != reserved[user, asset]
    ]


def _books_sound(engine: Engine) -> list[str]:
    problems = []
    resting = {}
    for code, ms in sorted(engine.markets.items()):
        bid, ask = ms.book.best(Side.BUY), ms.book.best(Side.SELL)
        if bid is not None and ask is not None and bid >= ask:
            problems.append(f"{code} book crossed: bid {bid} >= ask {ask}")
        for order in ms.book.orders():
            resting[order.id] = order
            if order.remaining <= 0 or order.market != code:
                problems.append(f"{code} book holds a dead or foreign order {order.id}")
    if set(resting) != set(engine.orders):
        problems.append("open-order index disagrees with the books")
    indexed = {oid for by_user in engine.open_by_user.values() for oid in by_user}
    if indexed != set(engine.orders):
        problems.append("per-user open-order index disagrees with the books")
    return problems
