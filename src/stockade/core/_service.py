"""The core compartment's logic, sans I/O: signed frames in, decisions out.

``Core.receive(frame, now_ms)`` opens and checks the envelope, checks the sender's capability, maps
the request to an engine or registry command, applies it at the next sequence number and returns an
``Outcome``: the reply to send, the ``Applied`` record to journal if state changed, whether the
reply must wait until everything applied so far is durable, and (for history queries) a storage
query to run once it is. The server (``_server``) does the I/O: sockets, the database, sealing.

``Core.replay(record)`` re-applies a journal record at its recorded sequence number and time. It
runs the same code as ``receive`` minus the clock and replay checks, and re-verifies the client's
signature, so a database row forged without the client's key cannot enter the state on restore.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from stockade.core._accounts import AccountRead, account_read
from stockade.core._grants import grant_problem, make_grant
from stockade.core._limits import Limiter
from stockade.core._log import CoreLog, Logged
from stockade.core._passkeys import MAC_LABEL
from stockade.core._people import People, PersonChange, Work, WorkRequest
from stockade.core._registry import AccountRecord, KeyRecord, Registry, RegistryState
from stockade.core._results import CoreCode, core_error
from stockade.core._rows import Applied, LogInRecord
from stockade.core._storage import JournalRecord, Snapshot, Storage
from stockade.core._totp import MASTER_LABEL
from stockade.core._views import open_info, private_view, public_trades, stored_order, trades_of
from stockade.errors import LocalProtocolError
from stockade.exchange import (
    DESCRIPTIONS,
    AccountId,
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    Event,
    ListAsset,
    ListMarket,
    OrderId,
    ResultCode,
    SetMarketStatus,
    Side,
    audit,
    restore,
    snapshot,
)
from stockade.keys import BadSignature, Identity, PublicKey
from stockade.tlog import (
    AccountOpened,
    DepositCredited,
    KeyAdded,
    KeyRemoved,
    LogEntry,
)
from stockade.wire import (
    MAX_REQUEST,
    UNADDRESSED,
    WINDOW_MS,
    AccountCreated,
    AmendOrderRequest,
    BalanceRow,
    Balances,
    BalancesRequest,
    Book,
    BookRequest,
    CancelAllRequest,
    CancelOrderRequest,
    CheckpointRequest,
    CoreCommand,
    CreateAccountRequest,
    CreateUser,
    CreditRequest,
    Envelope,
    ErrorInfo,
    GrantedRead,
    Ledger,
    LedgerRequest,
    ListAssetRequest,
    ListMarketRequest,
    LogRef,
    MarketInfo,
    Markets,
    MarketsRequest,
    Message,
    MyTradesRequest,
    Opener,
    OpenOrdersRequest,
    OpenSession,
    OrderRequest,
    Orders,
    PingRequest,
    PlaceOrderRequest,
    Pong,
    PublicTradesRequest,
    Quota,
    Receipt,
    RegisterKeyRequest,
    ReplayCache,
    Reply,
    ReplyBody,
    RevokeKeyRequest,
    Role,
    SessionOpened,
    SetMarketStatusRequest,
    Status,
    StatusRequest,
    StreamGrantRequest,
    TileRequest,
    UnexpectedMessage,
    WireError,
    authorize,
    decode_body,
    decode_envelope,
    seal,
)

SNAPSHOT_DOMAIN = b"stockade/snapshot/v1\x00"
ZERO_NONCE = bytes(16)
STATE_VERSION = 2

#: The log's first n stored entries, to rebuild its tree on restore.
LogEntries = Callable[[int], Iterable[bytes]]
#: A history query, run by the server on the storage once every earlier write is durable.
Query = Callable[[Storage], "ReplyBody | ErrorInfo"]


class JournalCorrupt(LocalProtocolError):
    """A journal record failed its checks on replay: the database was damaged or tampered with."""


@dataclass(frozen=True, slots=True)
class Outcome:
    recipient: bytes  # the public key to seal the reply to
    in_reply_to: bytes
    reply: ReplyBody | ErrorInfo | None = None  # None when ``query`` computes the reply
    applied: Applied | None = None
    wait: bool = False  # hold the reply until all applied so far is durable
    query: Query | None = None
    work: Work | None = None  # run off the loop; then ``Core.finish_work`` gives the reply
    quota: Quota | None = None  # a user's request: what is left of the account's budget

    def reply_message(self, body: ReplyBody | ErrorInfo) -> Reply:
        if isinstance(body, ErrorInfo):
            return Reply(self.in_reply_to, error=body, quota=self.quota)
        return Reply(self.in_reply_to, body=body, quota=self.quota)


class CoreState(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    seq: int
    last_ts: int
    engine: bytes
    registry: RegistryState
    #: (expiry, sender, nonce) of every nonce the core must still refuse as a replay.
    recent_nonces: list[tuple[int, bytes, bytes]]
    log_size: int
    log_root: bytes
    #: open order -> the log index of the entry that placed it
    order_leaves: list[tuple[int, int]]


def _error(code: int, name: str, message: str, field: str | None = None) -> ErrorInfo:
    return ErrorInfo(code, name, message, field)


def _result_error(code: ResultCode, order_id: OrderId | None = None) -> ErrorInfo:
    message, field = DESCRIPTIONS[code]
    return ErrorInfo(int(code), code.name, message, field, order_id)


def _public_key(raw: bytes) -> PublicKey | None:
    """A stranger's key, not cached (anyone can make many); None if it is not a valid key."""
    try:
        return PublicKey(raw)
    except ValueError:
        return None


def wire_error(exc: WireError) -> ErrorInfo:
    return _error(exc.code, type(exc).__name__, exc.message, exc.field)


class Core:
    def __init__(
        self,
        identity: Identity,
        operators: dict[bytes, PublicKey],
        log: CoreLog,
        engine: Engine,
        registry: Registry,
        seq: int = 0,
        not_before_ms: int = 0,
    ) -> None:
        self.identity = identity
        self.log = log
        self.operators = operators
        self.engine = engine
        self.registry = registry
        self.seq = seq
        self.last_ts = 0  # journal timestamps never go backwards, whatever the wall clock does
        self.durable_seq = seq
        self.snapshot_seq = seq
        self._user_keys: dict[bytes, PublicKey] = {}
        self._now_ms = 0  # the time keys are judged at: now, or a journal row's time on replay
        secret = identity.secret
        self.people = People(registry, secret.derive(MASTER_LABEL), secret.derive(MAC_LABEL))
        self.limiter = Limiter()
        self.opener = Opener(
            identity.public, self._lookup, ReplayCache(WINDOW_MS), MAX_REQUEST, not_before_ms
        )

    # ------------------------------------------------------------------ state

    @classmethod
    def new(
        cls, identity: Identity, operators: list[PublicKey], log: CoreLog, not_before_ms: int = 0
    ) -> Core:
        by_key = {k.raw: k for k in operators}
        registry = Registry(frozenset(by_key))
        return cls(identity, by_key, log, Engine(), registry, 0, not_before_ms)

    def state(self) -> bytes:
        """Canonical bytes of the whole state at ``seq``: engine, registry, sequence number, the
        nonces still inside the replay window, and the log's size and root (its entries are in
        storage, and rebuild the tree on restore)."""
        log = self.log
        return msgspec.msgpack.encode(
            CoreState(
                STATE_VERSION,
                self.seq,
                self.last_ts,
                snapshot(self.engine),
                self.registry.state(),
                self.opener.replay.entries(),
                log.tree.size,
                log.tree.root(),
                sorted(log.order_leaf.items()),
            )
        )

    def state_hash(self) -> bytes:
        """SHA-256 of what commands change: sequence, time, engine, registry, log. Not the
        replay memory, which every frame touches, accepted or not."""
        domain = [
            self.seq,
            self.last_ts,
            snapshot(self.engine),
            self.registry.state(),
            self.log.tree.root(),
        ]
        return hashlib.sha256(msgspec.msgpack.encode(domain)).digest()

    def snapshot(self, now_ms: int) -> Snapshot:
        """The state at ``seq``, hashed and signed with the core's key.

        The signature stops whoever can write the database but does not hold the core's key
        (a database host, a backup restored by the wrong hand) from planting a state.
        """
        state = self.state()
        digest = hashlib.sha256(state).digest()
        signature = self.identity.secret.sign(SNAPSHOT_DOMAIN, _snapshot_message(self.seq, digest))
        return Snapshot(self.seq, now_ms, digest, state, signature)

    @classmethod
    def from_snapshot(
        cls,
        identity: Identity,
        operators: list[PublicKey],
        log: CoreLog,
        snap: Snapshot,
        entries: LogEntries,
        not_before_ms: int,
    ) -> Core:
        """A core restored from a snapshot this core's key signed; anything else is refused."""
        if hashlib.sha256(snap.state).digest() != snap.state_hash:
            raise JournalCorrupt(f"snapshot at seq {snap.seq} does not match its hash")
        try:
            message = _snapshot_message(snap.seq, snap.state_hash)
            identity.public.verify(SNAPSHOT_DOMAIN, message, snap.signature)
        except BadSignature:
            raise JournalCorrupt(f"snapshot at seq {snap.seq} is not signed by this core") from None
        core = cls.from_state(identity, operators, log, snap.state, entries, not_before_ms)
        if core.seq != snap.seq:
            raise JournalCorrupt(f"snapshot row says seq {snap.seq}, its state says {core.seq}")
        return core

    @classmethod
    def from_state(
        cls,
        identity: Identity,
        operators: list[PublicKey],
        log: CoreLog,
        data: bytes,
        entries: LogEntries,
        not_before_ms: int = 0,
    ) -> Core:
        """A core from ``state()`` bytes; ``log``'s tree is rebuilt from the stored entries
        (``entries(n)``: the first n), which must hash to the root the state recorded."""
        state = msgspec.msgpack.decode(data, type=CoreState)
        if state.version != STATE_VERSION:
            raise JournalCorrupt(f"state version {state.version} is not {STATE_VERSION}")
        log.tree.extend(entries(state.log_size))
        if log.tree.size != state.log_size or log.tree.root() != state.log_root:
            raise JournalCorrupt(f"the stored log does not match the state at seq {state.seq}")
        log.order_leaf = dict(state.order_leaves)
        by_key = {k.raw: k for k in operators}
        registry = Registry.from_state(frozenset(by_key), state.registry)
        engine = restore(state.engine)
        core = cls(identity, by_key, log, engine, registry, state.seq, not_before_ms)
        core.last_ts = state.last_ts
        core.opener.replay.restore(state.recent_nonces)
        return core

    def _lookup(self, key: bytes) -> PublicKey | None:
        """The key to check a sender's signature with: core's own (for the commands it sends
        itself), an operator's, a live user's, or (for public reads) any key never registered.
        Revoked and expired keys are refused outright."""
        if key == self.identity.public.raw:
            return self.identity.public
        operator = self.operators.get(key)
        if operator is not None:
            return operator
        if self.registry.active_account(key, self._now_ms) is None:
            return None if key in self.registry.keys else _public_key(key)
        public = self._user_keys.get(key)
        if public is None:
            public = self._user_keys[key] = PublicKey(key)
        return public

    def _role_of(self, key: bytes) -> tuple[Role, AccountId]:
        if key == self.identity.public.raw:
            return Role.CORE, AccountId(0)
        if key in self.operators:
            return Role.OPERATOR, AccountId(0)
        account = self.registry.active_account(key, self._now_ms)
        return (Role.PUBLIC, AccountId(0)) if account is None else (Role.USER, account)

    # ------------------------------------------------------------------ entry points

    def receive(self, data: bytes, now_ms: int) -> Outcome:
        # Keys are judged at the time the command will be journaled at (never before the last
        # one, whatever the wall clock does), which is the time replay judges them at.
        self._now_ms = max(now_ms, self.last_ts)
        try:
            env = self.opener.authenticate(data, now_ms)
        except WireError as exc:
            # Unauthenticated: the reply names no request and no sender, so that no one can
            # obtain a signed refusal of someone else's request by sending a broken copy of it.
            return Outcome(UNADDRESSED, ZERO_NONCE, wire_error(exc))
        try:
            message = decode_body(env)
            role, account = self._role_of(env.sender)
            authorize(role, message)
        except WireError as exc:
            return Outcome(env.sender, env.nonce, wire_error(exc))
        ts = max(now_ms, self.last_ts)
        if role is not Role.USER:
            return self._execute(env, data, message, role, account, self.seq + 1, ts)
        quota = self.limiter.take(account, now_ms)
        if quota.retry_after_ms:
            refusal = core_error(CoreCode.RATE_LIMITED, "the account's request budget is spent")
            return Outcome(env.sender, env.nonce, refusal, quota=quota)
        outcome = self._execute(env, data, message, role, account, self.seq + 1, ts)
        return dataclasses.replace(outcome, quota=quota)

    def replay(self, record: JournalRecord, verify: bool = True) -> Applied:
        """Re-apply one journal record; raise ``JournalCorrupt`` if it does not apply cleanly.

        The record must be one the live core could have accepted at its recorded time: signed by
        a key registered then, timestamped within the window of that time, its nonce not used in
        the window before, and the journal's times never going backwards. A row copied, moved or
        forged in the database fails one of these.
        """
        if record.seq <= self.seq:
            raise JournalCorrupt(f"journal seq {record.seq} is not above {self.seq}")
        if record.ts < self.last_ts:
            raise JournalCorrupt(f"journal seq {record.seq}: time goes backwards")
        self._now_ms = record.ts
        try:
            env = decode_envelope(record.envelope, MAX_REQUEST)
            sender = self._lookup(env.sender)
            if sender is None:
                raise JournalCorrupt(f"journal seq {record.seq}: sender unknown at that point")
            if abs(env.ts - record.ts) > WINDOW_MS:
                raise JournalCorrupt(f"journal seq {record.seq}: signed outside its time window")
            if verify:
                self.opener.verify_signature(env, sender)
            self.opener.replay.check_and_remember(env.sender, env.nonce, record.ts)
            message = decode_body(env)
            role, account = self._role_of(env.sender)
            authorize(role, message)
        except WireError as exc:
            raise JournalCorrupt(f"journal seq {record.seq}: {exc.message}") from None
        outcome = self._execute(env, record.envelope, message, role, account, record.seq, record.ts)
        if outcome.applied is None:
            raise JournalCorrupt(f"journal seq {record.seq} did not apply on replay")
        return outcome.applied

    # ------------------------------------------------------------------ execution

    def _execute(
        self,
        env: Envelope,
        data: bytes,
        message: Message,
        role: Role,
        account: AccountId,
        seq: int,
        ts: int,
    ) -> Outcome:
        viewer = account if role is Role.USER else None  # operators see receipts in full
        signer = account if role is Role.USER else None  # an operator's entry names no user

        def engine(cmd: Command) -> Outcome:
            def log(events: list[Event]) -> Logged:
                return self.log.signed_request(seq, data, signer, events)

            return self._apply_engine(env, data, cmd, seq, ts, viewer, log)

        match message:
            case PlaceOrderRequest():
                return engine(message.command(account))
            case CancelOrderRequest():
                oid = None if message.order_id is None else OrderId(message.order_id)
                return engine(CancelOrder(account, oid, message.client_order_id))
            case CancelAllRequest():
                return engine(CancelAll(account, message.market))
            case AmendOrderRequest():
                cmd = AmendOrder(account, OrderId(message.order_id), message.qty, message.price)
                return engine(cmd)
            case CreditRequest():
                if AccountId(message.account) not in self.registry.accounts:
                    error = core_error(CoreCode.UNKNOWN_ACCOUNT, "no such account", "account")
                    return Outcome(env.sender, env.nonce, error)
                credit = Deposit(
                    AccountId(message.account), message.asset, message.amount, message.ref
                )
                user = self.log.pseudonym(message.account)

                def credited(commitment: bytes) -> DepositCredited:
                    return DepositCredited(seq, user, message.asset, env.sender, commitment)

                def log_credit(_events: list[Event]) -> Logged:
                    return self.log.committed(seq, data, credited)

                return self._apply_engine(env, data, credit, seq, ts, None, log_credit)
            case ListAssetRequest():
                return engine(ListAsset(message.asset))
            case ListMarketRequest():
                return engine(ListMarket(message.market))
            case SetMarketStatusRequest():
                return engine(SetMarketStatus(message.market, message.status))
            case CreateAccountRequest() | RegisterKeyRequest() | RevokeKeyRequest():
                return self._apply_registry(env, data, message, seq, ts)
        if isinstance(message, WorkRequest):
            return self._start_work(env, message, ts)
        if isinstance(message, PersonChange):
            return self._apply_people(env, data, message, account, seq, ts)
        return self._read(env, message, account, ts)

    # ------------------------------------------------------------------ people

    def _start_work(self, env: Envelope, message: WorkRequest, ts: int) -> Outcome:
        """Refuse what can be refused at once; hand the password or passkey work to the
        server."""
        work = self.people.start(message, ts, env.sender)
        if isinstance(work, ErrorInfo):
            return Outcome(env.sender, env.nonce, work, wait=True)
        return Outcome(env.sender, env.nonce, work=work)

    def complete(
        self, pending: Outcome, result: CoreCommand | ErrorInfo, nonce: bytes, now_ms: int
    ) -> Outcome:
        """The outcome of ``pending``'s work: its refusal, or what core's own command did (core
        signs the command and receives it like any frame, so the journal holds it and replay
        re-checks it), answered to whoever sent ``pending``."""
        assert pending.work is not None
        result = self.people.finished(pending.work.username, result, now_ms)
        if isinstance(result, ErrorInfo):
            return Outcome(
                pending.recipient, pending.in_reply_to, result, wait=True, quota=pending.quota
            )
        own = self.receive(seal(self.identity, self.identity.public, result, nonce, now_ms), now_ms)
        return dataclasses.replace(
            own, recipient=pending.recipient, in_reply_to=pending.in_reply_to, quota=pending.quota
        )

    def _apply_people(
        self,
        env: Envelope,
        data: bytes,
        message: PersonChange,
        account: AccountId,
        seq: int,
        ts: int,
    ) -> Outcome:
        """Core's own commands after password work, and a session managing its keys. Their log
        entries are vouched for by core's key (no operator signed them), and commit to the
        command."""
        changed = self.people.change(message, env.sender, account, seq, ts)
        if isinstance(changed, ErrorInfo):
            return Outcome(env.sender, env.nonce, changed, wait=True)
        record, key, core_key = changed.record, changed.key, self.identity.public.raw
        if record is None:  # journaled, but nothing the log shows
            self.seq, self.last_ts = seq, ts
            applied = Applied(seq, ts, data, [], None, self.log.tree.size, [], changed.login)
            answer = changed.refusal or Receipt(seq, ts, [], None, None)
            return Outcome(env.sender, env.nonce, answer, applied, wait=True)
        user = self.log.pseudonym(record.account)

        def entry(c: bytes) -> AccountOpened | KeyAdded | KeyRemoved:
            if key is None:
                return AccountOpened(seq, user, core_key, c)
            if changed.added:
                return KeyAdded(seq, user, key, core_key, c)
            return KeyRemoved(seq, user, key, core_key, c)

        if key is not None and not changed.added:
            self._user_keys.pop(key, None)

        def reply(log: LogRef) -> ReplyBody:
            if isinstance(message, CreateUser):
                return AccountCreated(seq, ts, record.account, log)
            if isinstance(message, OpenSession):
                return SessionOpened(
                    seq, ts, record.account, message.expires_ms, log, message.username
                )
            return Receipt(seq, ts, [], None, log)

        return self._committed(env, data, seq, ts, record, entry, reply, changed.login)

    def _committed(
        self,
        env: Envelope,
        data: bytes,
        seq: int,
        ts: int,
        record: AccountRecord | KeyRecord,
        entry: Callable[[bytes], LogEntry],
        reply: Callable[[LogRef], ReplyBody],
        login: LogInRecord | None = None,
    ) -> Outcome:
        """Apply an account change already made to the registry: the log commits to the
        command's frame, and the reply names the entry."""
        self.seq, self.last_ts = seq, ts
        logged = self.log.committed(seq, data, entry)
        applied = Applied(seq, ts, data, [], record, logged.first, logged.leaves, login)
        return Outcome(env.sender, env.nonce, reply(_log_ref(logged)), applied, wait=True)

    def _apply_engine(
        self,
        env: Envelope,
        data: bytes,
        cmd: Command,
        seq: int,
        ts: int,
        viewer: AccountId | None,
        log: Callable[[list[Event]], Logged],
    ) -> Outcome:
        result = self.engine.apply(cmd, seq)
        if result.code is not ResultCode.OK:
            error = _result_error(result.code, result.order_id)
            return Outcome(env.sender, env.nonce, error, wait=True)
        self.seq, self.last_ts = seq, ts
        logged = log(result.events)
        applied = Applied(seq, ts, data, result.events, None, logged.first, logged.leaves)
        events = result.events if viewer is None else private_view(result.events, viewer)
        receipt = Receipt(seq, ts, events, result.order_id, _log_ref(logged))
        return Outcome(env.sender, env.nonce, receipt, applied, wait=True)

    def _apply_registry(
        self,
        env: Envelope,
        data: bytes,
        message: CreateAccountRequest | RegisterKeyRequest | RevokeKeyRequest,
        seq: int,
        ts: int,
    ) -> Outcome:
        registry = self.registry
        record: AccountRecord | KeyRecord
        entry: Callable[[bytes], AccountOpened | KeyAdded | KeyRemoved]
        match message:
            case CreateAccountRequest():
                account = registry.create_account(message.label, seq)
                record = registry.accounts[account]
                user = self.log.pseudonym(account)

                def entry(c: bytes) -> AccountOpened:
                    return AccountOpened(seq, user, env.sender, c)

            case RegisterKeyRequest():
                account = AccountId(message.account)
                code = registry.check_register(account, message.public_key)
                if code is not None:
                    error = core_error(code, code.name.lower().replace("_", " "), "public_key")
                    return Outcome(env.sender, env.nonce, error, wait=True)
                registry.register(account, message.public_key, message.label, seq)
                record = registry.keys[message.public_key]
                added = self.log.pseudonym(account), message.public_key

                def entry(c: bytes) -> KeyAdded:
                    return KeyAdded(seq, *added, env.sender, c)

            case RevokeKeyRequest():
                code = registry.check_revoke(message.public_key)
                if code is not None:
                    error = core_error(code, "no such active key", "public_key")
                    return Outcome(env.sender, env.nonce, error, wait=True)
                registry.revoke(message.public_key, seq)
                self._user_keys.pop(message.public_key, None)
                record = registry.keys[message.public_key]
                removed = self.log.pseudonym(record.account), message.public_key

                def entry(c: bytes) -> KeyRemoved:
                    return KeyRemoved(seq, *removed, env.sender, c)

        def reply(log: LogRef) -> ReplyBody:
            if isinstance(message, CreateAccountRequest):
                return AccountCreated(seq, ts, record.account, log)
            return Receipt(seq, ts, [], None, log)

        return self._committed(env, data, seq, ts, record, entry, reply)

    # ------------------------------------------------------------------ reads

    def _read(self, env: Envelope, message: Message, account: AccountId, now_ms: int) -> Outcome:
        def answer(body: ReplyBody | ErrorInfo) -> Outcome:
            return Outcome(env.sender, env.nonce, body, wait=True)

        engine = self.engine
        match message:
            case BalancesRequest():
                cells = engine.balances.get(account, {})
                rows = [BalanceRow(a, c.available, c.held) for a, c in sorted(cells.items())]
                return answer(Balances(rows))
            case OpenOrdersRequest():
                mine = engine.open_orders(account)
                if message.market is not None:
                    mine = [o for o in mine if o.market == message.market]
                return answer(Orders([open_info(o) for o in mine]))
            case OrderRequest():
                return self._find_order(env, account, message)
            case MyTradesRequest():
                req = message
                return Outcome(
                    env.sender,
                    env.nonce,
                    wait=True,
                    query=lambda s: trades_of(
                        s, account, req.market, req.after_trade_id, req.limit, req.latest
                    ),
                )
            case LedgerRequest(asset=asset, after=after, limit=limit, latest=latest):

                def lines(storage: Storage) -> Ledger:
                    return Ledger(storage.ledger_of(account, asset, after, limit, latest))

                return Outcome(env.sender, env.nonce, wait=True, query=lines)
            case (
                BookRequest()
                | MarketsRequest()
                | PublicTradesRequest()
                | PingRequest()
                | CheckpointRequest()
                | TileRequest()
            ):
                return self._public_read(env, message, now_ms)
            case _ if isinstance(message, AccountRead):
                issuer = self.log.origin.split("/")[0]
                found = account_read(self.people, message, account, env.sender, now_ms, issuer)
                if isinstance(found, ReplyBody | ErrorInfo):
                    return answer(found)
                return Outcome(env.sender, env.nonce, wait=True, query=found)
            case StreamGrantRequest():
                pseudonym = self.log.pseudonym(account)
                return answer(
                    make_grant(self.identity, self.registry, env.sender, pseudonym, now_ms)
                )
            case GrantedRead():
                return self._granted_read(env, message, now_ms)
            case StatusRequest():
                status = Status(
                    self.seq,
                    now_ms,
                    self.durable_seq,
                    self.snapshot_seq,
                    len(self.registry.accounts),
                    len(engine.orders),
                    audit(engine)[:50],
                )
                return answer(status)
        raise UnexpectedMessage(f"no handler for {type(message).__name__}")

    def _granted_read(self, env: Envelope, message: GrantedRead, now_ms: int) -> Outcome:
        grant = message.grant
        problem = grant_problem(self.identity.public, self.registry, grant, now_ms)
        if problem is not None:
            return Outcome(env.sender, env.nonce, core_error(CoreCode.BAD_GRANT, problem, "grant"))
        return self._read(env, message.read, AccountId(grant.account), now_ms)

    def _public_read(
        self,
        env: Envelope,
        message: BookRequest
        | MarketsRequest
        | PublicTradesRequest
        | PingRequest
        | CheckpointRequest
        | TileRequest,
        now_ms: int,
    ) -> Outcome:
        """What anyone may read: the time, the markets, the log."""
        if isinstance(message, PingRequest):
            return Outcome(env.sender, env.nonce, Pong(now_ms, self.seq), wait=True)
        if isinstance(message, CheckpointRequest | TileRequest):
            found = self.log.read(message)
            if isinstance(found, ReplyBody | ErrorInfo):
                return Outcome(env.sender, env.nonce, found, wait=True)
            return Outcome(env.sender, env.nonce, wait=True, query=found)
        return self._market_read(env, message)

    def _market_read(
        self, env: Envelope, message: BookRequest | MarketsRequest | PublicTradesRequest
    ) -> Outcome:
        """What anyone may read of the markets: listings, books, anonymous trades."""
        engine = self.engine
        body: ReplyBody | ErrorInfo
        if isinstance(message, MarketsRequest):
            assets = [engine.assets[code] for code in sorted(engine.assets)]
            markets = [MarketInfo(m.market, m.status) for _, m in sorted(engine.markets.items())]
            return Outcome(env.sender, env.nonce, Markets(assets, markets), wait=True)
        ms = engine.markets.get(message.market)
        if ms is None:
            body = _result_error(ResultCode.UNKNOWN_MARKET)
        elif isinstance(message, PublicTradesRequest):
            return Outcome(
                env.sender, env.nonce, wait=True, query=lambda s: public_trades(s, message)
            )
        else:
            bids = ms.book.depth(Side.BUY, message.depth)
            asks = ms.book.depth(Side.SELL, message.depth)
            body = Book(message.market, self.seq, bids, asks)
        return Outcome(env.sender, env.nonce, body, wait=True)

    def _find_order(self, env: Envelope, account: AccountId, req: OrderRequest) -> Outcome:
        engine = self.engine
        oid = req.order_id
        if req.client_order_id is not None:
            oid = engine.find_order(account, req.client_order_id)
        order = engine.orders.get(OrderId(oid)) if oid is not None else None
        if order is not None and order.user == account:
            return Outcome(env.sender, env.nonce, open_info(order), wait=True)
        return Outcome(
            env.sender,
            env.nonce,
            wait=True,
            query=lambda s: stored_order(s, account, req.order_id, req.client_order_id),
        )


def _log_ref(logged: Logged) -> LogRef:
    return LogRef(logged.first, logged.leaves, logged.salt)


def _snapshot_message(seq: int, state_hash: bytes) -> bytes:
    return seq.to_bytes(8, "big") + state_hash
