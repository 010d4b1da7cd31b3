"""Result codes of the core compartment (6000-6999): refusals about accounts, keys and the core's
own state rather than the message's shape or the exchange's rules."""

from __future__ import annotations

from enum import IntEnum


class CoreCode(IntEnum):
    UNKNOWN_ACCOUNT = 6000
    KEY_ALREADY_REGISTERED = 6001
    UNKNOWN_KEY = 6002
    KEY_IS_OPERATOR = 6003
    ORDER_NOT_FOUND = 6004
    NO_CHECKPOINT = 6005
    NO_SUCH_TILE = 6006
