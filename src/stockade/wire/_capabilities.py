"""Who may send what. One table, checked for every message after its signature.

A role is bound to a key by the receiver (pinned operator keys, registered user keys; any other key
that was never registered is PUBLIC, so a relay can read the public log with a throwaway key). User
requests never name an account: the receiver acts for the account bound to the signing key.
Anything not in the table is refused.
"""

from __future__ import annotations

from enum import StrEnum

from stockade.wire._accounts import (
    AddKeyRequest,
    AddPasskey,
    AddPasskeyRequest,
    ChangePasswordRequest,
    CreateUser,
    DisableTotpRequest,
    EnableTotpRequest,
    KeysRequest,
    LogInRefused,
    LogInRequest,
    LogInsRequest,
    LogOutRequest,
    OpenSession,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    PasskeyOptionsRequest,
    PasskeysRequest,
    RemovePasskeyRequest,
    RevokeOwnKeyRequest,
    SetPassword,
    SignUpRequest,
    TotpSecretRequest,
)
from stockade.wire._errors import Unauthorized
from stockade.wire._messages import (
    AmendOrderRequest,
    BalancesRequest,
    BookRequest,
    CancelAllRequest,
    CancelOrderRequest,
    CheckpointRequest,
    CreateAccountRequest,
    CreditRequest,
    GrantedRead,
    LedgerRequest,
    ListAssetRequest,
    ListMarketRequest,
    MarketsRequest,
    Message,
    MyTradesRequest,
    OpenOrdersRequest,
    OrderRequest,
    PingRequest,
    PlaceOrderRequest,
    PublicTradesRequest,
    RegisterKeyRequest,
    RevokeKeyRequest,
    SetMarketStatusRequest,
    StatusRequest,
    StreamGrantRequest,
    TileRequest,
)


class Role(StrEnum):
    OPERATOR = "operator"  # pinned in core's configuration; later: M-of-N quorum commands
    USER = "user"  # an API key registered to one account
    PUBLIC = "public"  # a key the receiver never registered: public data only
    CORE = "core"  # core's own key: the commands it sends itself (CoreCommand)


_USER = frozenset({Role.USER})
_OPERATOR = frozenset({Role.OPERATOR})
_ANYONE = frozenset({Role.OPERATOR, Role.USER, Role.PUBLIC})
_CORE = frozenset({Role.CORE})

CAPABILITIES: dict[type[Message], frozenset[Role]] = {
    PlaceOrderRequest: _USER,
    CancelOrderRequest: _USER,
    CancelAllRequest: _USER,
    AmendOrderRequest: _USER,
    BalancesRequest: _USER,
    OrderRequest: _USER,
    OpenOrdersRequest: _USER,
    MyTradesRequest: _USER,
    LedgerRequest: _USER,
    BookRequest: _ANYONE,
    MarketsRequest: _ANYONE,
    PingRequest: _ANYONE,
    CheckpointRequest: _ANYONE,
    TileRequest: _ANYONE,
    PublicTradesRequest: _ANYONE,
    SignUpRequest: _ANYONE,
    LogInRequest: _ANYONE,
    PasskeyChallengeRequest: _ANYONE,
    PasskeyLogInRequest: _ANYONE,
    AddPasskeyRequest: _USER,
    PasskeyOptionsRequest: _USER,
    PasskeysRequest: _USER,
    RemovePasskeyRequest: _USER,
    LogOutRequest: _USER,
    AddKeyRequest: _USER,
    KeysRequest: _USER,
    StreamGrantRequest: _USER,
    TotpSecretRequest: _USER,
    EnableTotpRequest: _USER,
    DisableTotpRequest: _USER,
    LogInsRequest: _USER,
    ChangePasswordRequest: _USER,
    GrantedRead: _ANYONE,  # the grant, checked by core, says whose data
    RevokeOwnKeyRequest: _USER,
    CreateUser: _CORE,
    OpenSession: _CORE,
    AddPasskey: _CORE,
    LogInRefused: _CORE,
    SetPassword: _CORE,
    CreateAccountRequest: _OPERATOR,
    RegisterKeyRequest: _OPERATOR,
    RevokeKeyRequest: _OPERATOR,
    CreditRequest: _OPERATOR,
    ListAssetRequest: _OPERATOR,
    ListMarketRequest: _OPERATOR,
    SetMarketStatusRequest: _OPERATOR,
    StatusRequest: _OPERATOR,
}


def authorize(role: Role, message: Message) -> None:
    """Raise ``Unauthorized`` unless ``role`` may send this kind of message."""
    if role not in CAPABILITIES.get(type(message), frozenset()):
        raise Unauthorized(f"a {role.value} key may not send {type(message).__name__}")
