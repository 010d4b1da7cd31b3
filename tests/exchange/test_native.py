"""The engine that runs is the compiled build of the sources in the tree, never a stale one.

``setup.py`` compiles the matching engine with mypyc and ``scripts/bootstrap`` rebuilds it whenever
a source changes; these tests catch a run against an old build (someone edited a module and ran
pytest directly) and a build that silently fell back to the interpreter, which would make the
benchmarks and these tests measure something other than what ships.
"""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compiled_sources() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError("setup.py lists no COMPILED modules")


def _module_name(source: str) -> str:
    return source.removeprefix("src/").removesuffix(".py").replace("/", ".")


pure = pytest.mark.skipif(
    os.environ.get("STOCKADE_PURE") == "1", reason="STOCKADE_PURE=1 asks for the interpreted engine"
)


@pure
@pytest.mark.parametrize("source", _compiled_sources())
def test_engine_modules_are_compiled_from_the_current_sources(source: str) -> None:
    module = importlib.import_module(_module_name(source))
    loaded = Path(str(module.__file__))
    assert loaded.suffix == ".so", f"{module.__name__} runs interpreted: run ./scripts/bootstrap"
    assert loaded.stat().st_mtime >= (ROOT / source).stat().st_mtime, (
        f"{loaded.name} is older than {source}: run ./scripts/bootstrap to rebuild it"
    )


def test_every_compiled_module_is_pure_domain_code() -> None:
    # Only the I/O-free engine is compiled: anything else would hide code from the interpreter's
    # tracebacks and tools for no measured gain.
    for source in _compiled_sources():
        assert source.startswith("src/stockade/exchange/"), source
        assert (ROOT / source).is_file(), source
