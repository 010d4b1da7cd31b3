"""C2SP tlog tiles (https://c2sp.org/tlog-tiles): the log's hashes and entries as immutable
static files that any cache can serve.

A tile at level L holds up to 256 consecutive hashes of tree level 8*L; a tile is *full* at 256
and never changes after that, and a partial tile of width W is served at ``<path>.p/<W>``. Tile
indexes are written in groups of three digits, all but the last prefixed with ``x``:
1234067 is ``x001/x234/067``. Entry bundles hold the leaves themselves, each prefixed by its
length as a big-endian uint16, laid out like level-0 tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from stockade.errors import RemoteProtocolError
from stockade.tlog._merkle import HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY = 0xFFFF
ENTRIES = -1  # the "level" of entry bundles in a TileId


class TileError(RemoteProtocolError):
    """A tile path is malformed, or a tile's bytes do not have the tile's size."""

    code = 7004


@dataclass(frozen=True, slots=True, order=True)
class TileId:
    level: int  # ENTRIES for an entry bundle
    index: int
    width: int  # 1..256

    def path(self) -> str:
        level = "entries" if self.level == ENTRIES else str(self.level)
        partial = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{level}/{_encode_index(self.index)}{partial}"


def _encode_index(index: int) -> str:
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if not index:
            break
    groups.reverse()
    return "/".join("x" + g for g in groups[:-1]) + ("/" if len(groups) > 1 else "") + groups[-1]


def parse_tile_path(path: str) -> TileId:
    """The tile a request path names; ``TileError`` for anything that is not a canonical path."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError("not a tile path", "path")
    level = ENTRIES if parts[1] == "entries" else _number(parts[1], 2)
    if level > 63:
        raise TileError("tile level out of range", "path")
    width = TILE_WIDTH
    if len(parts) >= 4 and parts[-2].endswith(".p"):  # ...<NNN>.p/<W>
        width = _number(parts[-1], 3)
        parts = [*parts[:-2], parts[-2][:-2]]
        if not 0 < width < TILE_WIDTH:
            raise TileError("a partial tile's width is 1 to 255", "path")
    groups = parts[2:]
    if any(not g.startswith("x") for g in groups[:-1]) or groups[-1].startswith("x"):
        raise TileError("tile index groups are xNNN/.../NNN", "path")
    digits = [g.removeprefix("x") for g in groups[:-1]] + [groups[-1]]
    if any(len(d) != 3 or not (d.isascii() and d.isdigit()) for d in digits):
        raise TileError("tile index groups have three digits", "path")
    if len(digits) > 1 and digits[0] == "000":
        raise TileError("tile index has a leading zero group", "path")
    tile = TileId(level, int("".join(digits)), width)
    if tile.path() != path:
        raise TileError("tile path is not canonical", "path")
    return tile


def _number(text: str, digits: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > digits or text != str(int(text)):
        raise TileError("not a canonical number in the tile path", "path")
    return int(text)


def tiles_of(size: int, level: int) -> Iterator[TileId]:
    """Every tile of ``level`` in a tree of ``size`` leaves, the partial one last."""
    nodes = size >> (TILE_HEIGHT * level) if level != ENTRIES else size
    full, rest = divmod(nodes, TILE_WIDTH)
    for index in range(full):
        yield TileId(level, index, TILE_WIDTH)
    if rest:
        yield TileId(level, full, rest)


def tile_for(size: int, level: int, index: int) -> TileId:
    """The tile of ``level`` that holds hash ``index`` of tree level 8*level at ``size``."""
    nodes = size >> (TILE_HEIGHT * level) if level != ENTRIES else size
    if not 0 <= index < nodes:
        raise TileError(f"no hash {index} at level {level} in a tree of size {size}", "index")
    tile = index // TILE_WIDTH
    return TileId(level, tile, min(TILE_WIDTH, nodes - tile * TILE_WIDTH))


def check_tile_within(tile: TileId, size: int) -> None:
    """Raise ``TileError`` unless the tree of ``size`` has ``tile`` (a partial tile of a smaller
    width included: tiles never change once their hashes exist)."""
    bound = tile_for(size, tile.level, tile.index * TILE_WIDTH + tile.width - 1)
    if bound.index != tile.index or tile.width > bound.width:
        raise TileError(f"a tree of size {size} has no such tile", "width")


def tile_bytes(tree: LevelSource, entries: Sequence[bytes], tile: TileId) -> bytes:
    """A tile of a tree held in memory with its entries: a hash tile, or an entry bundle."""
    if tile.level != ENTRIES:
        return hash_tile(tree, tile)
    start = tile.index * TILE_WIDTH
    return encode_bundle(list(entries[start : start + tile.width]))


def encode_bundle(entries: list[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise TileError("an entry is over 65535 bytes", "entry")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_bundle(data: bytes, width: int) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("entry bundle ends inside a length", "bundle")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise TileError("entry bundle ends inside an entry", "bundle")
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if len(entries) != width:
        raise TileError(f"entry bundle holds {len(entries)} entries, not {width}", "bundle")
    return entries


class LevelSource(Protocol):
    def level_bytes(self, level: int, start: int, count: int) -> bytes: ...


class TileHashes:
    """The stored hashes of a tree of ``size`` leaves, read from tiles through ``fetch``.

    Nothing fetched is trusted: proofs built from these hashes are checked against a signed root,
    so a forged tile only makes the check fail. Tiles are cached, as they are immutable.
    """

    def __init__(self, size: int, fetch: Callable[[TileId], bytes]) -> None:
        self.size = size
        self._fetch = fetch
        self._cache: dict[TileId, bytes] = {}

    def tile(self, tile: TileId) -> bytes:
        data = self._cache.get(tile)
        if data is None:
            data = self._fetch(tile)
            if len(data) != tile.width * HASH_SIZE:
                raise TileError(f"tile {tile.path()} is not {tile.width} hashes", "tile")
            self._cache[tile] = data
        return data

    def stored(self, level: int, index: int) -> bytes:
        tile_level, sub = divmod(level, TILE_HEIGHT)
        first, count = index << sub, 1 << sub
        tile = tile_for(self.size, tile_level, first + count - 1)
        data = self.tile(tile)
        offset = first - tile.index * TILE_WIDTH
        hashes = [data[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(offset, offset + count)]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]


def hash_tile(source: LevelSource, tile: TileId) -> bytes:
    """A hash tile's bytes, cut from a tree that holds that level."""
    if tile.level == ENTRIES:
        raise TileError("entry bundles are not hash tiles", "path")
    return source.level_bytes(tile.level * TILE_HEIGHT, tile.index * TILE_WIDTH, tile.width)
