"""Every message compartments and clients exchange, defined once.

Each message is a frozen msgspec Struct with ``forbid_unknown_fields``, bounded fields and an
integer tag from the single registry ``MESSAGE_TAGS`` (tags are never reassigned). A request names
no account: the account is the one bound to the key that signed it, so a user key can only ever act
for its own user. Replies carry a tag of 100 or more.
"""

from __future__ import annotations

from typing import Annotated, get_args

import msgspec

from stockade.exchange import (
    AccountId,
    Asset,
    CloseReason,
    Event,
    Market,
    MarketStatus,
    PlaceOrder,
    SelfTrade,
    Side,
    TimeInForce,
)
from stockade.wire._accounts import (
    AddKeyRequest,
    AddPasskey,
    AddPasskeyRequest,
    ChangePasswordRequest,
    CreateUser,
    DisableTotpRequest,
    EnableTotpRequest,
    Keys,
    KeysRequest,
    LogInRefused,
    LogInRequest,
    LogIns,
    LogInsRequest,
    LogOutRequest,
    OpenSession,
    PasskeyChallenge,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    PasskeyOptionsRequest,
    Passkeys,
    PasskeysRequest,
    RemovePasskeyRequest,
    RevokeOwnKeyRequest,
    SetPassword,
    SignUpRequest,
    TotpSecret,
    TotpSecretRequest,
)
from stockade.wire._base import (
    MAX_LIST,
    MAX_TILE_BYTES,
    Amount,
    ClientOrderId,
    Code,
    Id,
    Key32,
    Label,
    Limit,
    MarketName,
    Nonce,
    Reference,
    Seq,
    Text,
    Username,
    _Msg,
)

# ---------------------------------------------------------------- user requests (API keys)


class PlaceOrderRequest(_Msg, frozen=True, tag=1):
    market: MarketName
    side: Side
    tif: TimeInForce
    qty: Amount
    price: Amount
    client_order_id: ClientOrderId | None = None
    stp: SelfTrade = SelfTrade.CANCEL_RESTING

    def command(self, user: AccountId) -> PlaceOrder:
        """The engine command this request asks for, for the account bound to its key."""
        return PlaceOrder(
            user,
            self.market,
            self.side,
            self.tif,
            self.qty,
            self.price,
            self.client_order_id,
            self.stp,
        )


class _NamesOneOrder(_Msg, frozen=True):
    """Names one of the caller's orders by exactly one of its engine id and its client id."""

    order_id: Id | None = None
    client_order_id: ClientOrderId | None = None

    def __post_init__(self) -> None:
        if (self.order_id is None) == (self.client_order_id is None):
            raise ValueError("give exactly one of order_id and client_order_id")


class CancelOrderRequest(_NamesOneOrder, frozen=True, tag=2):
    pass


class CancelAllRequest(_Msg, frozen=True, tag=3):
    market: MarketName


class AmendOrderRequest(_Msg, frozen=True, tag=4):
    order_id: Id
    qty: Amount
    price: Amount


class BalancesRequest(_Msg, frozen=True, tag=5):
    pass


class OrderRequest(_NamesOneOrder, frozen=True, tag=6):
    """One of the caller's orders, open or closed."""


class OpenOrdersRequest(_Msg, frozen=True, tag=7):
    market: MarketName | None = None


class MyTradesRequest(_Msg, frozen=True, tag=8):
    """The account's trades, oldest first, after ``after_trade_id``; with ``latest``, the
    latest ``limit`` of those instead of the first."""

    market: MarketName | None = None
    after_trade_id: Seq = 0
    limit: Limit = 100
    latest: bool = False


class LedgerRequest(_Msg, frozen=True, tag=47):
    """The account's statement, oldest first: each change to its total of an asset (trades
    with their fees, deposits, withdrawals) after entry ``after`` (0: from the start); with
    ``latest``, the latest ``limit`` of those instead of the first."""

    asset: Code | None = None
    after: Seq = 0
    limit: Limit = 100
    latest: bool = False


# ---------------------------------------------------------------- streams (people: ``_accounts``)


class StreamGrantRequest(_Msg, frozen=True, tag=36):
    """Ask for a ``StreamGrant``: leave for web to stream this account's orders, fills and
    balances to the signer for ``GRANT_MS`` (or until the signing session ends, if sooner)."""


#: How long a stream grant lasts; a client renews it before then.
GRANT_MS = 5 * 60 * 1000
#: What core's signature on a stream grant covers, after this domain (``grant_bytes``).
GRANT_DOMAIN = b"stockade/stream-grant/v1\x00"
#: What the grant's own key signs to use it on one stream connection: this, then the nonce the
#: connection's ``hello`` carries. A grant seen elsewhere opens nothing without that key.
STREAM_AUTH_DOMAIN = b"stockade/stream-auth/v1\x00"


class StreamGrant(_Msg, frozen=True, tag=117):
    """Core's word, signed by it, that ``public_key`` acts for ``account`` (whose log pseudonym
    is ``user``) until ``expires_ms``. Presented in a ``GrantedRead`` it lets the presenter read
    that account's orders, trades and balances while the key is still live; nothing else. Core
    checks its own signature, the time and the key on every read."""

    account: Id
    public_key: Key32
    user: Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
    expires_ms: Seq
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


def grant_bytes(account: int, public_key: bytes, user: bytes, expires_ms: int) -> bytes:
    return b"".join((account.to_bytes(8, "big"), public_key, user, expires_ms.to_bytes(8, "big")))


class GrantedRead(_Msg, frozen=True, tag=15):
    """A read of one account's private data on the strength of a ``StreamGrant`` (web streams
    them to the user the grant was made for)."""

    grant: StreamGrant
    read: BalancesRequest | OpenOrdersRequest | MyTradesRequest


# ---------------------------------------------------------------- public requests


class BookRequest(_Msg, frozen=True, tag=9):
    market: MarketName
    depth: Limit = 50


class PublicTradesRequest(_Msg, frozen=True, tag=14):
    """A market's trades, oldest first: after ``after_trade_id``, or when it is 0 the latest
    ``limit``. Anonymous: price, quantity, which side took, when, and the trade's log entry."""

    market: MarketName
    after_trade_id: Seq = 0
    limit: Limit = 100


class MarketsRequest(_Msg, frozen=True, tag=10):
    pass


class PingRequest(_Msg, frozen=True, tag=11):
    pass


class CheckpointRequest(_Msg, frozen=True, tag=12):
    """The log's latest signed checkpoint (C2SP tlog-checkpoint, as a signed note)."""


class TileRequest(_Msg, frozen=True, tag=13):
    """A hash tile or entry bundle (C2SP tlog-tiles) of the checkpointed tree."""

    level: Annotated[int, msgspec.Meta(ge=-1, le=7)]  # -1: an entry bundle
    index: Annotated[int, msgspec.Meta(ge=0, le=2**56)]
    width: Annotated[int, msgspec.Meta(ge=1, le=256)]


# ---------------------------------------------------------------- operator requests


class CreateAccountRequest(_Msg, frozen=True, tag=20):
    label: Label = ""


class RegisterKeyRequest(_Msg, frozen=True, tag=21):
    """Bind an Ed25519 public key to an account, so it may sign that account's requests."""

    account: Id
    public_key: Key32
    label: Label = ""


class RevokeKeyRequest(_Msg, frozen=True, tag=22):
    public_key: Key32


class CreditRequest(_Msg, frozen=True, tag=23):
    """A manual credit (an operator deposit). ``ref`` makes it idempotent."""

    account: Id
    asset: Code
    amount: Amount
    ref: Reference


class ListAssetRequest(_Msg, frozen=True, tag=24):
    asset: Asset


class ListMarketRequest(_Msg, frozen=True, tag=25):
    market: Market


class SetMarketStatusRequest(_Msg, frozen=True, tag=26):
    market: MarketName
    status: MarketStatus


class StatusRequest(_Msg, frozen=True, tag=27):
    pass


# ---------------------------------------------------------------- replies


class ErrorInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Why a request was refused. ``code`` ranges: 1000-4999 exchange rules, 5000-5999 the message
    itself, 6000-6999 the core's state. Nothing was changed by a refused request."""

    code: int
    name: str
    message: Text
    field: str | None = None
    order_id: Id | None = None  # the order a refusal is about, e.g. a reused client_order_id


class Quota(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The sender's request budget as core counted it after this request: ``remaining`` of
    ``limit`` requests may be sent at once; the budget is full again in ``reset_ms``. A request
    refused for want of budget says how long to wait in ``retry_after_ms``."""

    limit: int
    remaining: int
    reset_ms: int
    retry_after_ms: int = 0


class LogRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The log entries a request added: ``leaves[i]`` is entry ``first + i``, exactly as hashed
    into the log (its leaf hash is SHA-256(0x00 || leaf)). ``salt`` opens the commitment the
    entry makes to the request, when it makes one."""

    first: Seq
    leaves: list[bytes]
    salt: bytes | None = None


class Receipt(_Msg, frozen=True, tag=101):
    """A state-changing request was applied at ``seq`` (durably: receipts follow the journal)."""

    seq: Seq
    ts: int
    events: list[Event]
    order_id: Id | None = None
    log: LogRef | None = None


class AccountCreated(_Msg, frozen=True, tag=102):
    seq: Seq
    ts: int
    account: Id
    log: LogRef | None = None


class BalanceRow(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    asset: Code
    available: Amount
    held: Amount


class Balances(_Msg, frozen=True, tag=103):
    balances: list[BalanceRow]


class OrderInfo(_Msg, frozen=True, tag=104):
    order_id: Id
    market: MarketName
    side: Side
    tif: TimeInForce
    price: Amount
    qty: Amount
    remaining: Amount
    client_order_id: ClientOrderId | None
    open: bool
    close_reason: CloseReason | None = None


class Orders(_Msg, frozen=True, tag=105):
    orders: list[OrderInfo]


class TradeRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trade_id: Id
    seq: Seq
    ts: int
    market: MarketName
    order_id: Id
    side: Side
    maker: bool
    price: Amount
    qty: Amount
    fee: Amount


class Trades(_Msg, frozen=True, tag=106):
    trades: list[TradeRow]


class LedgerRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One statement line: ``amount`` (signed, the fee included) changed the account's total of
    ``asset`` at ``seq``; ``kind`` is trade, deposit or withdrawal, ``ref`` the trade id or the
    transfer's reference. ``entry`` orders the lines and pages them (``after``)."""

    entry: Seq
    seq: Seq
    ts: int
    asset: Code
    amount: int
    fee: Amount
    kind: Annotated[str, msgspec.Meta(max_length=16)]
    ref: Reference


class Ledger(_Msg, frozen=True, tag=122):
    entries: Annotated[list[LedgerRow], msgspec.Meta(max_length=MAX_LIST)]


class PublicTradeRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trade_id: Id
    seq: Seq  # the sequence number of the order that took
    ts: int
    price: Amount
    qty: Amount
    taker_side: Side


class PublicTrades(_Msg, frozen=True, tag=116):
    market: MarketName
    trades: list[PublicTradeRow]


class Book(_Msg, frozen=True, tag=107):
    market: MarketName
    seq: Seq
    bids: list[tuple[Amount, Amount]]
    asks: list[tuple[Amount, Amount]]


class MarketInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    market: Market
    status: MarketStatus


class Markets(_Msg, frozen=True, tag=108):
    assets: list[Asset]
    markets: list[MarketInfo]


class Pong(_Msg, frozen=True, tag=109):
    ts: int
    seq: Seq


class Status(_Msg, frozen=True, tag=110):
    seq: Seq
    ts: int
    durable_seq: Seq
    snapshot_seq: Seq
    accounts: int
    open_orders: int
    invariant_violations: list[Text]


class SessionOpened(_Msg, frozen=True, tag=114):
    """A log-in succeeded: ``session_key`` acts for ``account`` until ``expires_ms``."""

    seq: Seq
    ts: int
    account: Id
    expires_ms: int
    log: LogRef | None = None
    username: Username | None = None  # the account's, for the page to greet (a passkey names none)


class SignedCheckpointReply(_Msg, frozen=True, tag=112):
    note: Annotated[bytes, msgspec.Meta(max_length=65536)]


class TileReply(_Msg, frozen=True, tag=113):
    data: Annotated[bytes, msgspec.Meta(max_length=MAX_TILE_BYTES)]


ReplyBody = (
    Receipt
    | AccountCreated
    | Balances
    | OrderInfo
    | Orders
    | Trades
    | Book
    | Markets
    | Pong
    | Status
    | SignedCheckpointReply
    | TileReply
    | SessionOpened
    | Keys
    | PublicTrades
    | StreamGrant
    | TotpSecret
    | LogIns
    | PasskeyChallenge
    | Passkeys
    | Ledger
)


class Reply(_Msg, frozen=True, tag=100):
    """The answer to the request whose envelope nonce is ``in_reply_to``: a body or an error."""

    in_reply_to: Nonce
    body: ReplyBody | None = None
    error: ErrorInfo | None = None
    quota: Quota | None = None  # to a user's request: what is left of the account's budget

    def __post_init__(self) -> None:
        if (self.body is None) == (self.error is None):
            raise ValueError("a reply carries exactly one of body and error")


#: Most replies one envelope may carry: bounds the envelope well under ``MAX_REPLY``.
MAX_BATCH = 256


class Replies(_Msg, frozen=True, tag=111):
    """Several replies to one connection in one signed envelope, in request order.

    Replies released together by one group commit travel together: the sender signs once and the
    receiver verifies once, instead of once per reply. Each reply still names its request.
    """

    replies: Annotated[list[Reply], msgspec.Meta(min_length=2, max_length=MAX_BATCH)]


UserRequest = (
    PlaceOrderRequest
    | CancelOrderRequest
    | CancelAllRequest
    | AmendOrderRequest
    | BalancesRequest
    | OrderRequest
    | OpenOrdersRequest
    | MyTradesRequest
    | LedgerRequest
    | LogOutRequest
    | AddKeyRequest
    | KeysRequest
    | RevokeOwnKeyRequest
    | StreamGrantRequest
    | TotpSecretRequest
    | EnableTotpRequest
    | DisableTotpRequest
    | LogInsRequest
    | ChangePasswordRequest
    | PasskeyOptionsRequest
    | AddPasskeyRequest
    | PasskeysRequest
    | RemovePasskeyRequest
)
PublicRequest = (
    BookRequest
    | MarketsRequest
    | PingRequest
    | CheckpointRequest
    | TileRequest
    | PublicTradesRequest
    | SignUpRequest
    | LogInRequest
    | PasskeyChallengeRequest
    | PasskeyLogInRequest
    | GrantedRead
)
#: What core sends itself once work done off its event loop (a password hash) is ready.
CoreCommand = CreateUser | OpenSession | LogInRefused | SetPassword | AddPasskey
OperatorRequest = (
    CreateAccountRequest
    | RegisterKeyRequest
    | RevokeKeyRequest
    | CreditRequest
    | ListAssetRequest
    | ListMarketRequest
    | SetMarketStatusRequest
    | StatusRequest
)
Request = UserRequest | PublicRequest | OperatorRequest | CoreCommand
Message = Request | Reply | Replies


def _registry() -> dict[int, type[_Msg]]:
    tags: dict[int, type[_Msg]] = {}
    for cls in (*get_args(Request), Reply, Replies, *get_args(ReplyBody)):
        tag = cls.__struct_config__.tag
        if not isinstance(tag, int) or tag in tags:
            raise RuntimeError(f"message tag {tag!r} of {cls.__name__} is missing or reused")
        tags[tag] = cls
    return tags


MESSAGE_TAGS = _registry()
