"""The rules of ARCHITECTURE.md and STYLE.md that a machine can check."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "stockade"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
COMPARTMENTS = {"core", "web", "edge", "vault", "backup", "watch", "relay", "witness"}
SHARED = {"wire", "keys", "exchange", "tlog", "audit", "bitcoin", "client", "httpkit", "rates"}
#: Compartments on the public side: they never touch a database (ARCHITECTURE.md, Layout).
DATABASE_FREE = {"web", "edge", "relay"}
PURE = {"exchange", "tlog", "rates"}
MONEY = {"exchange", "core", "vault"}


def _packages() -> set[str]:
    return {p.parent.name for p in SRC.glob("*/__init__.py")}


def _contracts() -> dict[str, dict[str, object]]:
    doc = tomllib.loads(PYPROJECT.read_text())
    return {c["name"]: c for c in doc["tool"]["importlinter"]["contracts"]}


def _names(items: object) -> set[str]:
    assert isinstance(items, list)
    return {str(i).removeprefix("stockade.") for i in items}


def test_every_package_is_a_known_compartment_or_shared_library() -> None:
    assert _packages() <= COMPARTMENTS | SHARED | {"site"}


def test_import_contracts_cover_every_existing_package() -> None:
    contracts = _contracts()
    present = _packages()
    independent = _names(contracts["Compartments never import each other"]["modules"])
    assert independent == present & COMPARTMENTS
    shared = contracts["Shared packages import no compartment"]
    assert _names(shared["source_modules"]) == present & SHARED
    assert present & COMPARTMENTS <= _names(shared["forbidden_modules"])
    pure = contracts["Pure packages do no I/O and touch no database"]
    assert _names(pure["source_modules"]) == present & PURE
    public = contracts["Public-facing compartments import no database code"]
    assert _names(public["source_modules"]) == present & DATABASE_FREE


def _python_files(packages: set[str]) -> list[Path]:
    return [p for pkg in sorted(packages) for p in (SRC / pkg).rglob("*.py")]


def test_money_code_has_no_floats_and_no_true_division() -> None:
    offences = []
    for path in _python_files(MONEY & _packages()):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                offences.append(f"{path}:{node.lineno} float literal")
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # paths: joinpath
                offences.append(f"{path}:{node.lineno} true division")
            elif isinstance(node, ast.Name) and node.id == "float":
                offences.append(f"{path}:{node.lineno} float()")
    assert offences == []


def test_sources_are_plain_ascii() -> None:
    """No invisible or look-alike characters can hide in the code: Python, the page script,
    its templates and its stylesheet."""
    for path in [p for suffix in ("py", "js", "html", "css") for p in SRC.rglob(f"*.{suffix}")]:
        text = path.read_text()
        bad = [
            (i, ch)
            for i, ch in enumerate(text)
            if ord(ch) > 126 or (ord(ch) < 32 and ch not in "\n")
        ]
        assert bad == [], f"{path}: non-ASCII or control characters at {bad[:3]}"


def test_modules_stay_small() -> None:
    too_long = {
        p.name: n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 800
    }
    assert too_long == {}
