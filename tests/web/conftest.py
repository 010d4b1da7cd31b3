"""A live site for the web tests (``tests/live.py``): core, witness, relay and web on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveSite, running_site


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with running_site(tmp_path_factory.mktemp("web") / "site") as site:
        yield site
