"""A live site for the web tests (``tests/live.py``): core, witness, relay and web on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from stockade.client import SITE_FILE, HttpApi, read_site_file
from stockade.keys import generate
from tests.live import LiveSite, running_site


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with running_site(tmp_path_factory.mktemp("web") / "site") as site:
        yield site


@pytest.fixture
def session(live: LiveSite) -> Iterator[Callable[[str], HttpApi]]:
    """Makes clients with keys of their own, not yet logged in; closes them after the test."""
    made: list[HttpApi] = []
    core_key = read_site_file(live.layout.root / SITE_FILE).core_key

    def make(name: str) -> HttpApi:
        made.append(HttpApi(live.web, generate(name), core_key, timeout=10))
        return made[-1]

    yield make
    for api in made:
        api.close()
