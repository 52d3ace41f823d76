"""An append-only Merkle tree (RFC 9162 hashing) stored as tiles, and its proofs.

Storage (C2SP ``tlog-tiles`` shape): a *tile* at tile level ``L`` and index ``N`` holds up to 256
consecutive hashes of tree level ``8L``: level-0 tiles hold leaf hashes, a level-1 tile's entries
are the roots of 256 leaves each (the roots of full level-0 tiles), and so on. Only the last tile
of each level may be partial; a partial tile only grows (its prefix never changes), so a reader
that knows the tree had ``n`` leaves reads the nodes of that tree from tiles written at any later
size. Every node of a complete subtree is either a tile entry or computed from at most 128 entries
of one tile; a proof for a tree of ``n`` leaves reads about two tiles per tile level, i.e.
``O(log n)`` bytes and ``O(log_256 n)`` rows, whatever ``n``.

:class:`Edge` appends: it holds the partial tile of every level (the right edge), takes leaf
hashes, returns the tiles to write (complete and partial) and the new root. :class:`TreeReader`
serves nodes, roots of any prefix, inclusion and consistency proofs (RFC 9162 §2.1.3.1, §2.1.4.1)
over a function that reads tiles. Hashing (leaf and node) is :mod:`cra.tlog`'s.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

from ..tlog import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "TreeError", "Edge", "TreeReader", "perfect_root", "tiles_for_edge",
           "inclusion_ranges", "consistency_ranges", "edge_tiles_needed"]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_TILE_BYTES = TILE_WIDTH * HASH_SIZE

TileKey = Tuple[int, int]  # (tile level, tile index)
Range = Tuple[int, int]  # [start, end) of leaves


class TreeError(Exception):
    """The stored tiles do not hold what the tree's size says they must (damaged or tampered)."""


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over ``hashes`` (a power of two of them)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _split(blob: bytes) -> List[bytes]:
    return [blob[i:i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def tiles_for_edge(size: int) -> List[Tuple[int, int, int]]:
    """The partial tiles of a tree of ``size`` leaves: (tile level, tile index, entries)."""
    out: List[Tuple[int, int, int]] = []
    level = 0
    while True:
        count = size >> (TILE_HEIGHT * level)  # nodes of tree level 8*level
        if count == 0:
            return out
        if count % TILE_WIDTH:
            out.append((level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1


class Edge:
    """The right edge of a tree, in memory, for appending: the frontier (the roots of the
    perfect subtrees the size decomposes into, largest first: the root is their fold, so it costs
    O(log n) hashes) and the partial tile of every level (appended to, never rehashed)."""

    def __init__(self, size: int, frontier: bytes, partial: Mapping[TileKey, bytes]) -> None:
        """``frontier``: the stored frontier hashes (``bin(size).count("1")`` of them);
        ``partial``: the stored partial tiles (as :func:`tiles_for_edge` names them), each holding
        at least the entries the size says (only those are used)."""
        if len(frontier) != bin(size).count("1") * HASH_SIZE:
            raise TreeError(f"the stored frontier has {len(frontier) // HASH_SIZE} hashes; a tree of {size} leaves "
                            f"has {bin(size).count('1')}")
        self.size = size
        self.frontier = _split(frontier)
        self._rows: Dict[int, bytearray] = {}
        for level, index, entries in tiles_for_edge(size):
            blob = partial.get((level, index))
            if blob is None or len(blob) < entries * HASH_SIZE:
                raise TreeError(f"tile {level}/{index} should hold {entries} hashes for a tree of {size} leaves; "
                                f"it holds {0 if blob is None else len(blob) // HASH_SIZE}")
            self._rows[level] = bytearray(blob[:entries * HASH_SIZE])
        self._dirty: Dict[TileKey, bytes] = {}

    def append(self, leaves: Iterable[bytes]) -> None:
        """Appends leaf hashes (32 bytes each)."""
        sha256 = hashlib.sha256
        frontier, size = self.frontier, self.size
        row0 = self._rows.setdefault(0, bytearray())
        for h in leaves:
            row0 += h
            if len(row0) == _TILE_BYTES:  # a full level-0 tile
                self._dirty[(0, size >> TILE_HEIGHT)] = bytes(row0)
                row0 = self._rows[0] = bytearray()
            s, height, cur = size, 0, h
            while s & 1:  # merge equal-height subtrees: one hash per leaf on average
                cur = sha256(b"\x01" + frontier.pop() + cur).digest()
                height += 1
                s >>= 1
                if height % TILE_HEIGHT == 0:  # a node of tree level 8L is an entry of tile level L
                    self._tile_push(height // TILE_HEIGHT, cur, size)
            frontier.append(cur)
            size += 1
        if row0:
            self._dirty[(0, size >> TILE_HEIGHT)] = b""  # partial: its content is taken by take_tiles
        self.size = size

    def _tile_push(self, level: int, h: bytes, leaf_index: int) -> None:
        row = self._rows.setdefault(level, bytearray())
        key = (level, (leaf_index >> (TILE_HEIGHT * level)) >> TILE_HEIGHT)
        row += h
        if len(row) == _TILE_BYTES:
            self._dirty[key] = bytes(row)
            self._rows[level] = bytearray()
        else:
            self._dirty[key] = b""  # partial: its content is taken by take_tiles

    def take_tiles(self) -> List[Tuple[int, int, bytes]]:
        """The tiles changed since the last call (complete ones and the current partial ones):
        (tile level, tile index, hashes)."""
        out = [(level, index, blob or bytes(self._rows.get(level, b""))) for (level, index), blob
               in sorted(self._dirty.items())]
        self._dirty = {}
        return out

    def partial_tiles(self) -> Dict[TileKey, bytes]:
        """The partial tiles as they are now (what :class:`Edge` takes to continue this tree)."""
        return {(level, index): bytes(self._rows[level][:entries * HASH_SIZE])
                for level, index, entries in tiles_for_edge(self.size)}

    def frontier_bytes(self) -> bytes:
        """The frontier to store beside the size."""
        return b"".join(self.frontier)

    def root(self) -> bytes:
        """The root hash of the tree as it is now."""
        if not self.frontier:
            return EMPTY_ROOT
        acc = self.frontier[-1]
        for p in reversed(self.frontier[:-1]):
            acc = node_hash(p, acc)
        return acc


def _largest_pow2_below(n: int) -> int:
    return 1 << (n - 1).bit_length() - 1


def inclusion_ranges(index: int, size: int) -> List[Range]:
    """RFC 9162 PATH(index, D[0:size]) as the leaf ranges whose MTH are the proof's hashes,
    bottom up."""
    out: List[Range] = []
    a, b = 0, size
    while b - a > 1:
        k = _largest_pow2_below(b - a)
        if index < a + k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a = a + k
    out.reverse()
    return out


def consistency_ranges(m: int, n: int) -> List[Range]:
    """RFC 9162 PROOF(m, D[0:n]) (SUBPROOF with b = true) as leaf ranges, in proof order."""
    if not 0 < m < n:
        return []
    out: List[Range] = []
    a, b, flag = 0, n, True
    while True:
        size = b - a
        if m == size:
            if not flag:
                out.append((a, b))
            break
        k = _largest_pow2_below(size)
        if m <= k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a, m, flag = a + k, m - k, False
    out.reverse()
    return out


def _perfect_pieces(a: int, b: int) -> List[Tuple[int, int]]:
    """[a, b) as perfect subtrees, largest first: (tree level, node index). ``a`` is aligned as
    in RFC 9162's recursion (a multiple of the largest power of two not above b - a)."""
    out = []
    while a < b:
        level = (b - a).bit_length() - 1
        while a % (1 << level):
            level -= 1
        out.append((level, a >> level))
        a += 1 << level
    return out


def _tile_of(level: int, index: int) -> Tuple[TileKey, int, int]:
    """Where a node's entries are: tile, first entry, how many entries to fold."""
    tlevel, r = divmod(level, TILE_HEIGHT)
    base = index << r
    return (tlevel, base // TILE_WIDTH), base % TILE_WIDTH, 1 << r


TileReader = Callable[[Sequence[TileKey]], Mapping[TileKey, bytes]]


class TreeReader:
    """Nodes, roots and proofs of a stored tree, read through ``read_tiles`` (which returns the
    stored hashes of the tiles asked for). Tiles are cached for the reader's life; ``reads``
    counts tiles fetched (for the benchmark)."""

    def __init__(self, read_tiles: TileReader) -> None:
        self._read = read_tiles
        self._tiles: Dict[TileKey, bytes] = {}
        self._levels: Dict[TileKey, List[List[bytes]]] = {}
        self.reads = 0

    def _fetch(self, nodes: Iterable[Tuple[int, int]]) -> None:
        want: Set[TileKey] = {_tile_of(level, index)[0] for level, index in nodes}
        missing = sorted(want - set(self._tiles))
        if missing:
            got = self._read(missing)
            self.reads += len(missing)
            for k in missing:
                self._tiles[k] = bytes(got.get(k, b""))

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree at tree level ``level``, position ``index``."""
        self._fetch([(level, index)])
        key, first, count = _tile_of(level, index)
        rows = self._levels.get(key)
        if rows is None:  # every complete node of the tile, once: ~255 hashes, shared by all proofs
            rows = [_split(self._tiles[key])]
            while len(rows[-1]) > 1:
                prev = rows[-1]
                rows.append([node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
            self._levels[key] = rows
        r = level % TILE_HEIGHT
        pos = first >> r
        if r >= len(rows) or pos >= len(rows[r]):
            raise TreeError(f"tile {key[0]}/{key[1]} holds {len(rows[0])} hashes; node {level}/{index} "
                            f"needs {first + count}")
        return rows[r][pos]

    def prefetch(self, ranges: Iterable[Range]) -> None:
        """Reads, in one call, every tile the hashes of these ranges need."""
        self._fetch([p for a, b in ranges for p in _perfect_pieces(a, b)])

    def mth(self, a: int, b: int) -> bytes:
        """The root of leaves [a, b) (aligned as in RFC 9162's recursion; [0, n) always is)."""
        if a == b:
            return EMPTY_ROOT
        pieces = [self.node(level, index) for level, index in _perfect_pieces(a, b)]
        acc = pieces[-1]
        for p in reversed(pieces[:-1]):
            acc = node_hash(p, acc)
        return acc

    def root(self, size: int) -> bytes:
        """The root hash of the tree's first ``size`` leaves."""
        self.prefetch([(0, size)])
        return self.mth(0, size)

    def leaf(self, index: int) -> bytes:
        """The stored hash of leaf ``index``."""
        return self.node(0, index)

    def inclusion(self, index: int, size: int) -> List[bytes]:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        ranges = inclusion_ranges(index, size)
        self.prefetch(ranges)
        return [self.mth(a, b) for a, b in ranges]

    def inclusions(self, indices: Sequence[int], size: int) -> List[List[bytes]]:
        """Inclusion proofs of many leaves (their tiles read together)."""
        all_ranges = [inclusion_ranges(i, size) for i in indices]
        self.prefetch([r for rs in all_ranges for r in rs])
        cache: Dict[Range, bytes] = {}
        out = []
        for rs in all_ranges:
            proof = []
            for r in rs:
                h = cache.get(r)
                if h is None:
                    h = cache[r] = self.mth(*r)
                proof.append(h)
            out.append(proof)
        return out

    def consistency(self, m: int, n: int) -> List[bytes]:
        """The consistency proof from the tree of ``m`` leaves to the tree of ``n``."""
        if not 0 <= m <= n:
            raise ValueError(f"no consistency proof from {m} to {n} leaves")
        ranges = consistency_ranges(m, n)
        self.prefetch(ranges)
        return [self.mth(a, b) for a, b in ranges]


def edge_tiles_needed(size: int) -> List[TileKey]:
    """The tiles :class:`Edge` needs to continue a tree of ``size`` leaves."""
    return [(level, index) for level, index, _ in tiles_for_edge(size)]

