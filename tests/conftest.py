"""Fixtures shared by all tests: databases, identities, clocks.

PostgreSQL comes from ``STOCKADE_TEST_PG`` (set by ``scripts/test``, which finds or starts a
server) or the server on 127.0.0.1:5432. Each test that asks for it gets a fresh database, dropped
afterwards. If no server answers, the tests fail: they never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stockade.core import CoreLog
from stockade.keys import Identity

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_base() -> str:
    return os.environ.get("STOCKADE_TEST_PG", DEFAULT_PG)


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = _pg_base()
    name = f"stockade_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_admin_dsn(base), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required (run ./scripts/test, which starts one): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    with psycopg.connect(_admin_dsn(base), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/core.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both databases the core supports; tests using it run once on each."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/core.db"
    return str(request.getfixturevalue("pg_url"))


def fixed_identity(name: str) -> Identity:
    """A deterministic identity for tests (never used outside them)."""
    return Identity.from_seed(name, name.encode().ljust(32, b"\0")[:32])


TEST_ORIGIN = "stockade.invalid/test/log"


def fresh_log() -> CoreLog:
    """A fresh core transparency log with a fixed key, for tests."""
    return CoreLog(TEST_ORIGIN, fixed_identity("log"))


class FakeClock:
    """An injectable clock (seconds since the epoch) that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
