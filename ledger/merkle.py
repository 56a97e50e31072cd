"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification.

This is the ledger's tree math. Entries are opaque byte strings; the tree hash,
inclusion proofs and consistency proofs are exactly those of RFC 9162 §2.1
(identical to RFC 6962 §2.1)::

    leaf_hash(d)     = SHA-256(0x00 || d)
    node_hash(l, r)  = SHA-256(0x01 || l || r)
    MTH([])          = SHA-256("")
    MTH(D[n]), n > 1 = node_hash(MTH(D[0:k]), MTH(D[k:n])),  k = largest power of 2 < n

Usage::

    from ledger import merkle

    entries = [b"a", b"b", b"c"]
    root = merkle.root_hash(entries)
    proof = merkle.inclusion_proof(entries, 2)
    merkle.verify_inclusion(merkle.leaf_hash(b"c"), 2, 3, proof, root)  # None, or raises

    old_root = merkle.root_hash(entries[:2])
    merkle.verify_consistency(2, 3, old_root, root, merkle.consistency_proof(entries, 2))

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) returns None
on success and raises :class:`~ledger.errors.InvalidProofError` on any failure,
whatever is wrong with the input; it never raises another exception type.

Building blocks for a store that keeps interior hashes
------------------------------------------------------
A log that stores every *perfect aligned subtree* hash can answer any proof in
O(log n) reads. Coordinates:

* node ``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``
  and its hash is the MTH of that range; level 0 holds the leaf hashes
  (``leaf_hash(entry)``), level ``l + 1`` index ``i`` is
  ``node_hash(h(l, 2i), h(l, 2i + 1))``. A node exists once its range is complete.
* every proof element is the MTH of a contiguous leaf range ``[start, end)``,
  described by a :class:`SubtreeRef`. :func:`inclusion_proof_nodes` and
  :func:`consistency_proof_nodes` list those ranges in proof order (leaf to root,
  as RFC 9162 emits them).
* a range is either *perfect* (size a power of two, ``start`` a multiple of the
  size: exactly one stored node, ``(ref.level, ref.index)``), or lies on the right
  edge of the tree (``end`` is the tree size) and is not perfect. Then
  :func:`perfect_subtrees` splits it into perfect aligned subtrees, left to right,
  strictly decreasing in size, and :func:`fold_right_edge` over their hashes
  (``node_hash`` nested from the right: ``h0 . (h1 . (h2 ...))``) gives its MTH.
  At most one element per proof is of this kind, so a proof needs at most about
  2·log2(n) node reads; :func:`required_nodes` lists them for one batched read and
  :func:`assemble_proof` builds the proof from the fetched hashes.
* :class:`CompactRange` keeps the right edge (one hash per set bit of the size) so
  a log can append without reading, and reports every node it completes so the
  store can persist it.

What this module does NOT do: no I/O, no storage, no clocks, no signatures. It
trusts nothing it verifies, but the *builders* (``root_from_leaf_hashes``,
``CompactRange``, ``fold_right_edge``) trust their inputs to be 32-byte hashes
because they sit on hot paths fed by our own code.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import EntryNotFoundError, IntegrityError, InvalidProofError, TreeSizeError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "CompactRange",
    "SubtreeRef",
    "TreeNode",
    "assemble_proof",
    "consistency_proof",
    "consistency_proof_nodes",
    "fold_right_edge",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "required_nodes",
    "root_from_leaf_hashes",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes and indexes are uint64 on the wire (RFC 9162, C2SP checkpoints)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
# Inclusion proofs of a uint64 tree have at most 64 elements, consistency proofs 65.
_MAX_PROOF_LEN = 65


def leaf_hash(data: bytes) -> bytes:
    """Hash of one entry: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_hash(entries: Sequence[bytes]) -> bytes:
    """Merkle tree hash of raw entries; the empty list gives :data:`EMPTY_ROOT`."""
    return root_from_leaf_hashes([leaf_hash(e) for e in entries])


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of already-hashed leaves, iteratively.

    Hashes level by level, carrying an unpaired last node up unchanged. That is
    the RFC tree: the left subtree of every node is the largest perfect one, so
    pairing from the left and promoting the odd node out builds the same shape.
    List comprehensions over whole levels keep the interpreter overhead per hash
    low, which matters when re-verifying a log of millions of entries.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        it = iter(level)
        nxt = [sha(prefix + left + right).digest() for left, right in zip(it, it, strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A stored node: ``hash`` is the MTH of leaves [index·2^level, (index+1)·2^level)."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The right edge of the tree [0, size): one perfect-subtree hash per set bit.

    ``peaks()`` lists them left to right, largest first; the root is their fold
    from the right. ``append`` returns every node it completes (the new leaf at
    level 0, then each parent it merges into) so a store can persist them.

        cr = CompactRange()
        for e in entries:
            new_nodes = cr.append(leaf_hash(e))
        root = cr.root()
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_peaks(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Restore a range from stored peaks (as returned by ``peaks()``), left to right."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a non-negative int, got {size!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"size {size} needs {size.bit_count()} peaks, got {len(hashes)}")
        for h in hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise ValueError("peaks must be 32-byte hashes")
        cr = cls()
        cr._size = size
        cr._hashes = list(hashes)
        return cr

    @property
    def size(self) -> int:
        return self._size

    def copy(self) -> CompactRange:
        return CompactRange.from_peaks(self._size, self._hashes)

    def peaks(self) -> list[TreeNode]:
        """The perfect subtrees covering [0, size), left to right."""
        out: list[TreeNode] = []
        start = 0
        hashes = iter(self._hashes)
        for level in range(self._size.bit_length() - 1, -1, -1):
            if self._size >> level & 1:
                out.append(TreeNode(level, start >> level, next(hashes)))
                start += 1 << level
        return out

    def append(self, leaf: bytes) -> list[TreeNode]:
        """Append one leaf hash; return the nodes this completes, lowest level first."""
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError("append takes a 32-byte leaf hash")
        hashes = self._hashes
        index = self._size
        created = [TreeNode(0, index, leaf)]
        h = leaf
        level = 0
        # Each trailing 1 bit of the old size is a peak that the new leaf completes.
        while index & 1:
            h = node_hash(hashes.pop(), h)
            index >>= 1
            level += 1
            created.append(TreeNode(level, index, h))
        hashes.append(h)
        self._size += 1
        return created

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes without reporting the nodes (fast path for re-hashing)."""
        hashes = self._hashes
        size = self._size
        sha = _sha256
        prefix = _NODE_PREFIX
        for h in leaves:
            n = size
            while n & 1:
                h = sha(prefix + hashes.pop() + h).digest()
                n >>= 1
            hashes.append(h)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """MTH of [0, size)."""
        return fold_right_edge(self._hashes)


@dataclass(frozen=True, slots=True)
class SubtreeRef:
    """The leaf range [start, end) whose MTH is one proof element."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"invalid subtree range [{self.start}, {self.end})")

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def is_perfect(self) -> bool:
        """True when the range is exactly one stored node."""
        size = self.end - self.start
        return size & (size - 1) == 0 and self.start % size == 0

    @property
    def level(self) -> int:
        """Level of the single node for a perfect range (ValueError otherwise)."""
        if not self.is_perfect:
            raise ValueError(f"[{self.start}, {self.end}) is not a perfect subtree")
        return self.size.bit_length() - 1

    @property
    def index(self) -> int:
        """Index (within its level) of the single node for a perfect range."""
        return self.start >> self.level

    def nodes(self) -> list[tuple[int, int]]:
        """The ``(level, index)`` nodes whose right fold is this range's MTH."""
        return perfect_subtrees(self.start, self.end)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split [start, end) into perfect aligned subtrees, left to right, as (level, index).

    The sizes are the binary digits of ``end - start`` from the largest down, so
    ``fold_right_edge`` of their hashes is the RFC MTH of ``D[start:end]``. That
    requires ``start`` to be a multiple of the largest piece, which holds for every
    range a proof uses; anything else raises ``ValueError`` (a caller bug). An
    empty range gives an empty list.
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid range [{start}, {end})")
    size = end - start
    out: list[tuple[int, int]] = []
    cur = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            if cur & ((1 << level) - 1):
                raise ValueError(f"[{start}, {end}) does not split into aligned subtrees")
            out.append((level, cur >> level))
            cur += 1 << level
    return out


def fold_right_edge(hashes: Sequence[bytes]) -> bytes:
    """Fold subtree hashes (left to right, decreasing sizes) into one MTH, from the right.

    ``[h0, h1, h2]`` gives ``node_hash(h0, node_hash(h1, h2))``; one hash is
    returned as is; an empty list gives :data:`EMPTY_ROOT` (the MTH of no leaves).
    """
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_index(index: int, size: int) -> None:
    if (
        isinstance(index, bool)
        or isinstance(size, bool)
        or not isinstance(index, int)
        or not isinstance(size, int)
        or not 0 <= index < size
    ):
        raise EntryNotFoundError(index, size)


def inclusion_proof_nodes(index: int, size: int) -> list[SubtreeRef]:
    """Ranges whose MTHs form the inclusion proof of leaf ``index`` in a tree of ``size``.

    Proof order (leaf's sibling first). Raises EntryNotFoundError unless
    0 <= index < size.
    """
    _check_index(index, size)
    refs: list[SubtreeRef] = []
    lo, hi = 0, size
    # Walk down from the root like RFC 9162 PATH(m, D[lo:hi]): the sibling of the
    # half holding the leaf is a proof element; collected root-first, so reversed.
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            refs.append(SubtreeRef(mid, hi))
            hi = mid
        else:
            refs.append(SubtreeRef(lo, mid))
            lo = mid
    refs.reverse()
    return refs


def consistency_proof_nodes(old_size: int, new_size: int) -> list[SubtreeRef]:
    """Ranges whose MTHs form the consistency proof from ``old_size`` to ``new_size``.

    Proof order as RFC 9162 SUBPROOF emits it. Empty when old_size is 0 or equals
    new_size. Raises TreeSizeError unless 0 <= old_size <= new_size.
    """
    if (
        isinstance(old_size, bool)
        or isinstance(new_size, bool)
        or not isinstance(old_size, int)
        or not isinstance(new_size, int)
        or not 0 <= old_size <= new_size
    ):
        raise TreeSizeError(old_size, new_size)
    if old_size == 0 or old_size == new_size:
        return []
    refs: list[SubtreeRef] = []
    lo, hi = 0, new_size
    m = old_size  # old size relative to lo
    whole_old_tree = True  # RFC's flag b: is [lo, lo+m) the entire old tree?
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            refs.append(SubtreeRef(lo + k, hi))
            hi = lo + k
        else:
            refs.append(SubtreeRef(lo, lo + k))
            lo += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        # The verifier cannot know this subtree's hash (it is not the old root).
        refs.append(SubtreeRef(lo, hi))
    refs.reverse()
    return refs


def required_nodes(refs: Iterable[SubtreeRef]) -> list[tuple[int, int]]:
    """Every stored node ``(level, index)`` needed to assemble these proof elements."""
    out: list[tuple[int, int]] = []
    for ref in refs:
        out.extend(perfect_subtrees(ref.start, ref.end))
    return out


def assemble_proof(
    refs: Sequence[SubtreeRef], nodes: Mapping[tuple[int, int], bytes]
) -> list[bytes]:
    """Build proof hashes from stored perfect-subtree hashes keyed by (level, index).

    A node missing from ``nodes`` means the store lost an interior hash it must
    have: that raises IntegrityError.
    """
    proof: list[bytes] = []
    for ref in refs:
        coords = perfect_subtrees(ref.start, ref.end)
        try:
            hashes = [nodes[c] for c in coords]
        except KeyError as exc:
            raise IntegrityError(None, f"stored tree node {exc.args[0]} is missing") from None
        proof.append(hashes[0] if len(hashes) == 1 else fold_right_edge(hashes))
    return proof


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof for ``entries[index]`` in the tree of all ``entries``.

    In-memory version (O(n) hashing); the store builds the same proof from
    stored nodes. Raises EntryNotFoundError for an index outside the list.
    """
    hashes = [leaf_hash(e) for e in entries]
    refs = inclusion_proof_nodes(index, len(hashes))
    return [root_from_leaf_hashes(hashes[r.start : r.end]) for r in refs]


def consistency_proof(entries: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the tree of ``entries[:old_size]`` to that of all ``entries``.

    Raises TreeSizeError unless 0 <= old_size <= len(entries).
    """
    hashes = [leaf_hash(e) for e in entries]
    refs = consistency_proof_nodes(old_size, len(hashes))
    return [root_from_leaf_hashes(hashes[r.start : r.end]) for r in refs]


# --- verification -------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidProofError(f"{what} is not bytes")
    if len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")
    return value


def _check_proof(proof: object) -> list[bytes]:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        # A bare bytes/str is a Sequence too, but never a list of hashes.
        raise InvalidProofError("proof is not a sequence of hashes")
    if len(proof) > _MAX_PROOF_LEN:
        # No uint64 tree needs more; refuse before hashing anything.
        raise InvalidProofError(f"proof has {len(proof)} elements, more than any tree needs")
    return [_check_hash(p, f"proof[{i}]") for i, p in enumerate(proof)]


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a LEAF HASH) is at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns None; raises InvalidProofError on any failure.
    """
    path = _check_proof(proof)
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root hash")
    if not _is_int(index) or not _is_int(size):
        raise InvalidProofError("index and size must be integers")
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise InvalidProofError(f"index {index} is not inside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise InvalidProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Skip levels where the leaf's ancestor is the last node and has no sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("proof is shorter than the tree is deep")
    if not _equal(r, root):
        raise InvalidProofError("computed root does not match")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends the tree (old_size, old_root).

    RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; the empty
    tree (root SHA-256("")) is consistent with every tree given an empty proof.
    Returns None; raises InvalidProofError on any failure.
    """
    path = _check_proof(proof)
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if not _is_int(old_size) or not _is_int(new_size):
        raise InvalidProofError("sizes must be integers")
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise InvalidProofError(f"sizes {old_size} -> {new_size} are not in order")
    if old_size == new_size:
        if path:
            raise InvalidProofError("sizes are equal but the proof is not empty")
        if not _equal(old_root, new_root):
            raise InvalidProofError("sizes are equal but the roots differ")
        if old_size == 0 and not _equal(old_root, EMPTY_ROOT):
            raise InvalidProofError("the empty tree has another root")
        return
    if old_size == 0:
        if path:
            raise InvalidProofError("a proof from the empty tree must be empty")
        if not _equal(old_root, EMPTY_ROOT):
            raise InvalidProofError("the empty tree has another root")
        return
    if not path:
        raise InvalidProofError("proof is empty")
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one: its root is the seed.
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("proof is shorter than needed")
    if not _equal(fr, old_root):
        raise InvalidProofError("computed old root does not match")
    if not _equal(sr, new_root):
        raise InvalidProofError("computed new root does not match")
