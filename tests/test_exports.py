"""Each package's public API is exactly what its ``__all__`` lists (h11/trio test_exports)."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = ["exchange", "wire", "keys", "core", "client", "site"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(f"stockade.{name}")
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(module.__all__) == public
    assert sorted(module.__all__) == sorted(set(module.__all__))
