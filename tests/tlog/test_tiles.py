"""Tile paths and bundles as C2SP tlog-tiles and trillian-tessera's path tests define them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.tlog import (
    ENTRIES,
    TileError,
    TileId,
    Tree,
    decode_bundle,
    encode_bundle,
    hash_tile,
    leaf_hash,
    parse_tile_path,
    tiles_of,
)

PATHS = [  # transparency-dev/trillian-tessera api/layout/paths_test.go, C2SP tlog-tiles
    ("tile/0/000", TileId(0, 0, 256)),
    ("tile/0/000.p/255", TileId(0, 0, 255)),
    ("tile/1/000.p/1", TileId(1, 0, 1)),
    ("tile/15/x455/667", TileId(15, 455667, 256)),
    ("tile/3/x001/x234/567", TileId(3, 1234567, 256)),
    ("tile/0/x001/x234/067.p/89", TileId(0, 1234067, 89)),
    ("tile/entries/000.p/8", TileId(ENTRIES, 0, 8)),
    ("tile/entries/x123/x456/789", TileId(ENTRIES, 123456789, 256)),
    ("tile/entries/x123/x456/x789/000", TileId(ENTRIES, 123456789000, 256)),
    ("tile/63/x999/x999/x999/x999/x999/999.p/255", TileId(63, 999999999999999999, 255)),
]


@pytest.mark.parametrize(("path", "tile"), PATHS)
def test_paths_encode_and_parse(path: str, tile: TileId) -> None:
    assert tile.path() == path
    assert parse_tile_path(path) == tile


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/x001/x234",
        "tile/0/001/002",
        "tile/0/x001/0002",
        "tile/0/x001/-002",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/",
        "tile/0/000.p/08",
        "tile/64/000",
        "tile/-1/000",
        "tile/abc/000",
        "tile/00/000",
        "tile/0/x000/001",
        "checkpoint",
        "tile/0/000/",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_tile_counts_follow_the_spec_example() -> None:
    level0 = list(tiles_of(70_000, 0))
    assert len(level0) == 274
    assert level0[-1] == TileId(0, 273, 112)
    assert list(tiles_of(70_000, 1)) == [TileId(1, 0, 256), TileId(1, 1, 17)]
    assert list(tiles_of(70_000, 2)) == [TileId(2, 0, 1)]
    assert list(tiles_of(256, 1)) == [TileId(1, 0, 1)]


def test_bundle_example_and_leaf_hash() -> None:
    assert encode_bundle([b"hello", b"world!"]).hex() == "000568656c6c6f0006776f726c6421"
    assert leaf_hash(b"hello").hex() == (
        "8a2a5c9b768827de5a9552c38a044c66959c68f6d2f21b5260af54d2f87db827"
    )


def test_a_level_one_tile_holds_the_roots_of_full_level_zero_tiles() -> None:
    tree = Tree()
    tree.extend(i.to_bytes(4, "big") for i in range(600))
    assert hash_tile(tree, TileId(1, 0, 2)) == tree.root(256) + tree.stored(8, 1)
    assert hash_tile(tree, TileId(0, 2, 88))[-32:] == tree.leaf(599)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    assert decode_bundle(encode_bundle(entries), len(entries)) == entries


@given(st.binary(max_size=100), st.integers(0, 5))
def test_bundle_decoder_refuses_garbage_with_its_error(data: bytes, width: int) -> None:
    with contextlib.suppress(TileError):
        decode_bundle(data, width)


@given(st.text(max_size=60))
def test_path_parser_refuses_garbage_with_its_error(path: str) -> None:
    try:
        tile = parse_tile_path(path)
    except TileError:
        return
    assert tile.path() == path
