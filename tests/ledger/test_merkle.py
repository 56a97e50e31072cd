"""Tests for ledger.merkle: published vectors, a naive reference, corrupted twins, properties.

The naive recursive RFC 9162 §2.1 implementation lives here only, to cross-check
the fast one. Verification outcomes of mutated inputs are predicted by an
independent recursive oracle (``ref_inclusion_root`` / ``ref_consistency_roots``)
rather than assumed: a few size/index mutations are genuinely indistinguishable
for any verifier (e.g. index 0 in sizes 3 and 4 has the same proof shape), and
the signed checkpoint is what pins the size in practice.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import (
    EntryNotFoundError,
    IntegrityError,
    InvalidProofError,
    LedgerError,
    TreeSizeError,
)
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    SubtreeRef,
    assemble_proof,
    consistency_proof,
    consistency_proof_nodes,
    fold_right_edge,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    required_nodes,
    root_from_leaf_hashes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# CI clones the repo next to a copy of shared/: <repo>/../shared/vectors.
VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
RFC_VECTORS = VECTORS_DIR / "rfc6962_vectors.json"

PROPS = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load() -> dict[str, Any]:
    if not RFC_VECTORS.is_file():
        pytest.skip(f"published vectors not found at {RFC_VECTORS} (copied from shared/vectors)")
    data: dict[str, Any] = json.loads(RFC_VECTORS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return _load()


def _cases(key: str) -> list[Any]:
    """Vector cases for parametrize; empty (tests then skip) when the file is absent."""
    if not RFC_VECTORS.is_file():
        return []
    cases: list[Any] = json.loads(RFC_VECTORS.read_text(encoding="utf-8"))[key]
    return cases


def _h(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


# --- naive recursive reference (tests only) --------------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if len(d) == 0:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


class RefTree:
    """RFC 9162 PATH and PROOF, recursive, with MTH of ranges memoized."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.d = list(entries)
        self.mth = cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 0:
            return hashlib.sha256(b"").digest()
        if hi - lo == 1:
            return hashlib.sha256(b"\x00" + self.d[lo]).digest()
        k = _k(hi - lo)
        return hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def inclusion(self, index: int) -> list[bytes]:
        return self.path(index, 0, len(self.d))

    def consistency(self, m: int) -> list[bytes]:
        if m == 0 or m == len(self.d):
            return []
        return self.subproof(m, 0, len(self.d), True)


def ref_inclusion_root(m: int, n: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """Root the proof implies for leaf m of n (recursive oracle), None if the shape is wrong."""
    if not 0 <= m < n:
        return None
    if n == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k = _k(n)
    last, rest = proof[-1], proof[:-1]
    if m < k:
        sub = ref_inclusion_root(m, k, leaf, rest)
        return None if sub is None else node_hash(sub, last)
    sub = ref_inclusion_root(m - k, n - k, leaf, rest)
    return None if sub is None else node_hash(last, sub)


def ref_inclusion_ok(leaf: bytes, m: int, n: int, proof: Sequence[bytes], root: bytes) -> bool:
    return ref_inclusion_root(m, n, leaf, proof) == root


def ref_consistency_ok(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Oracle: does SUBPROOF's structure reproduce both roots from this proof?"""
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and old_root == new_root and (m > 0 or old_root == EMPTY_ROOT)
    if m == 0:
        return not proof and old_root == EMPTY_ROOT

    def rec(m: int, n: int, b: bool, proof: Sequence[bytes]) -> tuple[bytes, bytes] | None:
        if m == n:
            if b:
                return (old_root, old_root) if not proof else None
            return (proof[0], proof[0]) if len(proof) == 1 else None
        if not proof:
            return None
        k = _k(n)
        last, rest = proof[-1], proof[:-1]
        if m <= k:
            r = rec(m, k, b, rest)
            return None if r is None else (r[0], node_hash(r[1], last))
        r = rec(m - k, n - k, False, rest)
        return None if r is None else (node_hash(last, r[0]), node_hash(last, r[1]))

    return rec(m, n, True, list(proof)) == (old_root, new_root)


def _passes(fn: Callable[..., None], *args: object) -> bool:
    """True if fn(*args) returns, False if it raises InvalidProofError (anything else escapes)."""
    try:
        fn(*args)
    except InvalidProofError:
        return False
    return True


# --- corrupted twins --------------------------------------------------------------


def _flip(h: bytes, bit: int = 0) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def _proof_twins(proof: Sequence[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """Proof-list corruptions that can never verify."""
    for i in range(len(proof)):
        for bit in (0, 7, 255):
            yield f"flip proof[{i}] bit {bit}", [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        yield f"drop proof[{i}]", [*proof[:i], *proof[i + 1 :]]
        yield f"truncate proof[{i}]", [*proof[:i], proof[i][:31], *proof[i + 1 :]]
        if i + 1 < len(proof) and proof[i] != proof[i + 1]:
            yield (
                f"swap proof[{i}] and [{i + 1}]",
                [
                    *proof[:i],
                    proof[i + 1],
                    proof[i],
                    *proof[i + 2 :],
                ],
            )
    yield "append zero hash", [*proof, b"\x00" * 32]
    yield "prepend zero hash", [b"\x00" * 32, *proof]
    if proof:
        yield "duplicate last", [*proof, proof[-1]]


def check_inclusion_twins(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> int:
    """Assert the valid proof verifies and every corrupted twin fails; return twins tried."""
    verify_inclusion(leaf, index, size, proof, root)
    tried = 0
    for desc, bad in _proof_twins(proof):
        tried += 1
        assert not _passes(verify_inclusion, leaf, index, size, bad, root), desc
    for desc, args in [
        ("flip leaf", (_flip(leaf), index, size, proof, root)),
        ("flip root", (leaf, index, size, proof, _flip(root, 100))),
        ("truncated leaf", (leaf[:31], index, size, proof, root)),
        ("truncated root", (leaf, index, size, proof, root[:31])),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("index = size", (leaf, size, size, proof, root)),
        ("negative index", (leaf, -1, size, proof, root)),
        ("size 0", (leaf, index, 0, proof, root)),
    ]:
        tried += 1
        assert not _passes(verify_inclusion, *args), desc
    # Index/size mutations: the verifier must agree with the recursive oracle, and
    # the oracle rejects all but shape-identical claims.
    for idx, sz in {
        (index + 1, size),
        (index - 1, size),
        (index ^ 1, size),
        (index ^ 2, size),
        (index, size + 1),
        (index, size - 1),
        (index, size * 2),
        (index, size // 2),
    }:
        if (idx, sz) == (index, size):
            continue
        tried += 1
        want = ref_inclusion_ok(leaf, idx, sz, proof, root)
        got = _passes(verify_inclusion, leaf, idx, sz, proof, root)
        assert got == want, (idx, sz)
        if idx != index:
            assert not got, f"wrong index {idx} accepted"
    return tried


def check_consistency_twins(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> int:
    verify_consistency(m, n, old_root, new_root, proof)
    tried = 0
    for desc, bad in _proof_twins(proof):
        tried += 1
        assert not _passes(verify_consistency, m, n, old_root, new_root, bad), desc
    roots = [
        ("flip old root", _flip(old_root), new_root),
        ("flip new root", old_root, _flip(new_root, 200)),
        ("truncated old root", old_root[:31], new_root),
        ("truncated new root", old_root, new_root[:31]),
        ("long new root", old_root, new_root + b"\x00"),
    ]
    if old_root != new_root:
        roots.append(("swapped roots", new_root, old_root))
    for desc, r1, r2 in roots:
        tried += 1
        assert not _passes(verify_consistency, m, n, r1, r2, proof), desc
    for s1, s2 in {(m + 1, n), (m - 1, n), (m, n + 1), (m, n - 1), (n, m), (m ^ 1, n), (m, n * 2)}:
        if (s1, s2) == (m, n):
            continue
        tried += 1
        want = ref_consistency_ok(s1, s2, old_root, new_root, proof)
        got = _passes(verify_consistency, s1, s2, old_root, new_root, proof)
        assert got == want, (s1, s2)
    return tried


# --- published vectors --------------------------------------------------------------


def test_roots_for_sizes_0_to_8(vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    assert len(leaves) == 8
    for size in range(9):
        want = bytes.fromhex(vectors["roots"][str(size)])
        assert root_hash(leaves[:size]) == want
        assert ref_mth(leaves[:size]) == want
        cr = CompactRange()
        cr.extend(leaf_hash(e) for e in leaves[:size])
        assert cr.root() == want
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_subtree_hashes(vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    cr = CompactRange()
    stored: dict[tuple[int, int], bytes] = {}
    for e in leaves:
        for node in cr.append(leaf_hash(e)):
            stored[node.level, node.index] = node.hash
    levels = vectors["subtree_hashes"]["levels"]
    want = {(lv, i): bytes.fromhex(h) for lv, hs in enumerate(levels) for i, h in enumerate(hs)}
    assert stored == want
    for (level, index), h in want.items():
        assert root_hash(leaves[index << level : (index + 1) << level]) == h


@pytest.mark.parametrize("case", _cases("inclusion"), ids=lambda c: c["from"])
def test_published_inclusion_proofs(case: dict[str, Any], vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    proof = _h(case["proof"])
    leaf, root = bytes.fromhex(case["leaf_hash"]), bytes.fromhex(case["root"])
    assert leaf == leaf_hash(leaves[case["index"]])
    assert inclusion_proof(leaves[: case["size"]], case["index"]) == proof
    assert check_inclusion_twins(leaf, case["index"], case["size"], proof, root) > 5


@pytest.mark.parametrize("case", _cases("consistency"), ids=lambda c: c["from"])
def test_published_consistency_proofs(case: dict[str, Any], vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    proof = _h(case["proof"])
    m, n = case["size1"], case["size2"]
    r1, r2 = bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"])
    assert consistency_proof(leaves[:n], m) == proof
    assert check_consistency_twins(m, n, r1, r2, proof) > 5


def test_derived_inclusion_proofs(vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    cases = vectors["inclusion_derived"]
    assert len(cases) == 36  # every (index, size) with 1 <= size <= 8
    for case in cases:
        size, index, proof = case["size"], case["index"], _h(case["proof"])
        assert inclusion_proof(leaves[:size], index) == proof
        assert RefTree(leaves[:size]).inclusion(index) == proof
        root = bytes.fromhex(vectors["roots"][str(size)])
        check_inclusion_twins(leaf_hash(leaves[index]), index, size, proof, root)


def test_derived_consistency_proofs(vectors: dict[str, Any]) -> None:
    leaves = _h(vectors["leaves"])
    cases = vectors["consistency_derived"]
    assert len(cases) == 36  # every 1 <= size1 <= size2 <= 8
    for case in cases:
        m, n, proof = case["size1"], case["size2"], _h(case["proof"])
        assert consistency_proof(leaves[:n], m) == proof
        assert RefTree(leaves[:n]).consistency(m) == proof
        r1 = bytes.fromhex(vectors["roots"][str(m)])
        r2 = bytes.fromhex(vectors["roots"][str(n)])
        check_consistency_twins(m, n, r1, r2, proof)


@pytest.mark.parametrize("probe", _cases("inclusion_probes"), ids=lambda p: p["desc"])
def test_inclusion_probes(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            bytes.fromhex(probe["leaf_hash"]),
            probe["index"],
            probe["size"],
            _h(probe["proof"]),
            bytes.fromhex(probe["root"]),
        )

    if probe["want_error"]:
        with pytest.raises(InvalidProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("probe", _cases("consistency_probes"), ids=lambda p: p["desc"])
def test_consistency_probes(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            bytes.fromhex(probe["root1"]),
            bytes.fromhex(probe["root2"]),
            _h(probe["proof"]),
        )

    if probe["want_error"]:
        with pytest.raises(InvalidProofError):
            run()
    else:
        run()


def test_rfc6962_worked_examples(vectors: dict[str, Any]) -> None:
    ex = vectors["rfc6962_examples"]
    leaves = _h(vectors["leaves"])[:7]
    label = {name: root_hash(leaves[a:b]) for name, (a, b) in ex["labels"].items()}
    assert label["hash"] == root_hash(leaves)
    for p in ex["paths"]:
        want = [label[x] for x in p["nodes"]]
        assert inclusion_proof(leaves[: p["size"]], p["index"]) == want
        # The node view names the same ranges as the RFC figure.
        refs = inclusion_proof_nodes(p["index"], p["size"])
        assert [(r.start, r.end) for r in refs] == [tuple(ex["labels"][x]) for x in p["nodes"]]
        verify_inclusion(leaf_hash(leaves[p["index"]]), p["index"], p["size"], want, label["hash"])
    for p in ex["proofs"]:
        want = [label[x] for x in p["nodes"]]
        assert consistency_proof(leaves[: p["size"]], p["size1"]) == want
        refs = consistency_proof_nodes(p["size1"], p["size"])
        assert [(r.start, r.end) for r in refs] == [tuple(ex["labels"][x]) for x in p["nodes"]]
        old = root_hash(leaves[: p["size1"]])
        verify_consistency(p["size1"], p["size"], old, label["hash"], want)


def test_real_world_certificate_transparency_leaf(vectors: dict[str, Any]) -> None:
    rw = vectors["real_world"]
    leaf = leaf_hash(bytes.fromhex(rw["leaf_input"]))
    root = bytes.fromhex(rw["root"])
    proof = _h(rw["inclusion_proof"])
    assert check_inclusion_twins(leaf, rw["index"], rw["size"], proof, root) > 20
    old_root = bytes.fromhex(rw["root1"])
    cproof = _h(rw["consistency_proof"])
    assert check_consistency_twins(rw["size1"], rw["size"], old_root, root, cproof) > 20
    # The node view agrees on how many hashes these proofs need.
    assert len(inclusion_proof_nodes(rw["index"], rw["size"])) == len(proof)
    assert len(consistency_proof_nodes(rw["size1"], rw["size"])) == len(cproof)


def _valid_subtree(start: int, end: int) -> bool:
    # As in the accumulated vectors' note (draft-ietf-plants-merkle-tree-certs).
    if start == end or start == 0:
        return True
    return start % (1 << (end - start - 1).bit_length()) == 0


def test_accumulated_subtree_hash_vector(vectors: dict[str, Any]) -> None:
    acc = vectors["accumulated"]
    d = [bytes([i]) for i in range(acc["max"])]
    hashes = [leaf_hash(x) for x in d]
    nodes: dict[tuple[int, int], bytes] = {}
    cr = CompactRange()
    for h in hashes:
        nodes.update({(n.level, n.index): n.hash for n in cr.append(h)})
    digest = hashlib.sha256()
    for end in range(acc["max"] + 1):
        for start in range(end + 1):
            if not _valid_subtree(start, end):
                continue
            sub = root_from_leaf_hashes(hashes[start:end])
            if start < end:
                # Every valid subtree is a right fold of stored perfect nodes.
                assert fold_right_edge([nodes[c] for c in perfect_subtrees(start, end)]) == sub
            digest.update(f"[{start}, {end}) {sub.hex()}\n".encode())
    assert digest.hexdigest() == acc["subtree_hashes"]


def test_accumulated_subtree_inclusion_proof_vector(vectors: dict[str, Any]) -> None:
    acc = vectors["accumulated"]
    d = [bytes([i]) for i in range(acc["max"])]
    digest = hashlib.sha256()
    for end in range(1, acc["max"] + 1):
        for start in range(end):
            if not _valid_subtree(start, end):
                continue
            for index in range(start, end):
                proof = inclusion_proof(d[start:end], index - start)
                line = f"{index} [{start}, {end})" + "".join(f" {p.hex()}" for p in proof)
                digest.update(f"{line}\n".encode())
    assert digest.hexdigest() == acc["subtree_inclusion_proofs"]


# --- cross-checks against the naive reference ------------------------------------------


def _entries(n: int, seed: int = 0) -> list[bytes]:
    rnd = random.Random(seed * 1_000_003 + n)
    return [rnd.randbytes(rnd.randrange(0, 12)) for _ in range(n)]


def _all_nodes(entries: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    cr = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for e in entries:
        for node in cr.append(leaf_hash(e)):
            nodes[node.level, node.index] = node.hash
    return nodes


def test_reference_cross_check_all_sizes_up_to_70() -> None:
    for n in range(71):
        entries = _entries(n)
        ref = RefTree(entries)
        root = ref.mth(0, n)
        assert root_hash(entries) == root == ref_mth(entries)
        nodes = _all_nodes(entries)
        # Every stored node is the MTH of its range.
        for (level, index), h in nodes.items():
            assert h == ref.mth(index << level, (index + 1) << level)
        for i in range(n):
            want = ref.inclusion(i)
            refs = inclusion_proof_nodes(i, n)
            assert assemble_proof(refs, nodes) == want
            assert inclusion_proof(entries, i) == want
            verify_inclusion(leaf_hash(entries[i]), i, n, want, root)
        for m in range(n + 1):
            want = ref.consistency(m)
            refs = consistency_proof_nodes(m, n)
            assert assemble_proof(refs, nodes) == want
            assert consistency_proof(entries, m) == want
            verify_consistency(m, n, ref.mth(0, m), root, want)


@pytest.mark.parametrize("n", [127, 128, 129, 255, 256, 1000, 1023, 1025, 4097, 9999])
def test_reference_cross_check_larger_sizes(n: int) -> None:
    entries = _entries(n, seed=7)
    ref = RefTree(entries)
    nodes = _all_nodes(entries)
    root = ref.mth(0, n)
    assert root_hash(entries) == root
    rnd = random.Random(n)
    for i in {0, n - 1, n // 2, *(rnd.randrange(n) for _ in range(40))}:
        want = ref.inclusion(i)
        refs = inclusion_proof_nodes(i, n)
        # At most one element is not a single stored node, and only on the right edge.
        partial = [r for r in refs if not r.is_perfect]
        assert len(partial) <= 1
        assert all(r.end == n for r in partial)
        assert assemble_proof(refs, nodes) == want
        verify_inclusion(leaf_hash(entries[i]), i, n, want, root)
    for m in {1, n - 1, n // 2, *(rnd.randrange(n + 1) for _ in range(40))}:
        want = ref.consistency(m)
        refs = consistency_proof_nodes(m, n)
        partial = [r for r in refs if not r.is_perfect]
        assert len(partial) <= 1
        assert all(r.end == n for r in partial)
        assert assemble_proof(refs, nodes) == want
        verify_consistency(m, n, ref.mth(0, m), root, want)


def test_node_reads_are_logarithmic() -> None:
    n = 2**40 + 2**20 + 12345
    for i in (0, n // 3, n - 1):
        assert len(required_nodes(inclusion_proof_nodes(i, n))) <= 2 * 41
    for m in (1, n // 3, n - 1):
        assert len(required_nodes(consistency_proof_nodes(m, n))) <= 2 * 42


# --- building blocks ----------------------------------------------------------------


def test_perfect_subtrees_and_fold() -> None:
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 1) == [(0, 0)]
    assert perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="aligned"):
        perfect_subtrees(2, 7)  # a 4-leaf piece would start at 2
    with pytest.raises(ValueError, match="invalid range"):
        perfect_subtrees(5, 4)
    a, b, c = (bytes([i]) * 32 for i in range(3))
    assert fold_right_edge([]) == EMPTY_ROOT
    assert fold_right_edge([a]) == a
    assert fold_right_edge([a, b, c]) == node_hash(a, node_hash(b, c))


def test_subtree_ref() -> None:
    r = SubtreeRef(8, 16)
    assert r.is_perfect
    assert (r.level, r.index, r.size) == (3, 1, 8)
    assert r.nodes() == [(3, 1)]
    edge = SubtreeRef(8, 13)
    assert not edge.is_perfect
    assert edge.nodes() == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not a perfect"):
        _ = edge.level
    with pytest.raises(ValueError, match="invalid subtree"):
        SubtreeRef(3, 3)
    assert SubtreeRef(0, 1).is_perfect
    assert SubtreeRef(5, 6).index == 5


def test_compact_range_peaks_and_restore() -> None:
    entries = _entries(300, seed=3)
    cr = CompactRange()
    ref = RefTree(entries)
    for size, e in enumerate(entries, start=1):
        created = cr.append(leaf_hash(e))
        assert (created[0].level, created[0].index) == (0, size - 1)
        # The new nodes are exactly those whose range ends at this leaf.
        assert len(created) == 1 + ((size - 1) ^ size).bit_length() - 1
        peaks = cr.peaks()
        assert [(p.level, p.index) for p in peaks] == perfect_subtrees(0, size)
        for p in peaks:
            assert p.hash == ref.mth(p.index << p.level, (p.index + 1) << p.level)
        assert cr.root() == ref.mth(0, size)
        restored = CompactRange.from_peaks(size, [p.hash for p in peaks])
        assert (restored.root(), restored.size) == (cr.root(), size)
    clone = cr.copy()
    clone.append(leaf_hash(b"x"))
    assert clone.size == cr.size + 1
    assert cr.root() == ref.mth(0, 300)
    with pytest.raises(ValueError, match="peaks"):
        CompactRange.from_peaks(3, [b"\x00" * 32])
    with pytest.raises(ValueError, match="32-byte"):
        CompactRange().append(b"short")


def test_root_from_leaf_hashes_matches_compact_range_on_large_input() -> None:
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2**17 + 3)]
    cr = CompactRange()
    cr.extend(hashes)
    assert root_from_leaf_hashes(hashes) == cr.root()
    assert root_from_leaf_hashes(hashes[:5]) == node_hash(
        node_hash(node_hash(hashes[0], hashes[1]), node_hash(hashes[2], hashes[3])), hashes[4]
    )


def test_out_of_range_arguments_raise_domain_errors() -> None:
    entries = [b"a", b"b", b"c"]
    with pytest.raises(EntryNotFoundError) as exc:
        inclusion_proof(entries, 3)
    assert (exc.value.index, exc.value.size) == (3, 3)
    with pytest.raises(EntryNotFoundError):
        inclusion_proof(entries, -1)
    with pytest.raises(EntryNotFoundError):
        inclusion_proof([], 0)
    with pytest.raises(TreeSizeError) as exc2:
        consistency_proof(entries, 4)
    assert (exc2.value.size, exc2.value.current) == (4, 3)
    with pytest.raises(TreeSizeError):
        consistency_proof(entries, -1)
    with pytest.raises(TreeSizeError):
        consistency_proof_nodes(2, 1)
    assert consistency_proof(entries, 0) == []
    assert consistency_proof(entries, 3) == []
    with pytest.raises(IntegrityError, match="missing"):
        assemble_proof(inclusion_proof_nodes(0, 3), {})
    assert issubclass(IntegrityError, LedgerError)


# Inputs of every wrong kind; each must give InvalidProofError and nothing else.
_GOOD_LEAF = leaf_hash(b"x")
_BAD_INCLUSION_ARGS: list[tuple[object, ...]] = [
    ("leaf", 0, 1, [], _GOOD_LEAF),
    (None, 0, 1, [], _GOOD_LEAF),
    (bytearray(_GOOD_LEAF), 0, 1, [], _GOOD_LEAF),
    (_GOOD_LEAF, 0, 1, [], None),
    (_GOOD_LEAF, 0, 1, None, _GOOD_LEAF),
    (_GOOD_LEAF, 0, 1, 5, _GOOD_LEAF),
    (_GOOD_LEAF, 0, 1, _GOOD_LEAF, _GOOD_LEAF),
    (_GOOD_LEAF, 0, 1, "abc", _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2, [1], _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2, ["x" * 32], _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2, [None], _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2, [b"\x00" * 33], _GOOD_LEAF),
    (_GOOD_LEAF, 0.0, 1, [], _GOOD_LEAF),
    (_GOOD_LEAF, "0", 1, [], _GOOD_LEAF),
    (_GOOD_LEAF, False, True, [], _GOOD_LEAF),
    (_GOOD_LEAF, 0, None, [], _GOOD_LEAF),
    (_GOOD_LEAF, -1, 1, [], _GOOD_LEAF),
    (_GOOD_LEAF, 0, -1, [], _GOOD_LEAF),
    (_GOOD_LEAF, 2**64, 2**64 + 1, [b"\x00" * 32] * 65, _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2**70, [], _GOOD_LEAF),
    (_GOOD_LEAF, 0, 2, [b"\x00" * 32] * 10_000, _GOOD_LEAF),
]


@pytest.mark.parametrize("args", _BAD_INCLUSION_ARGS, ids=range(len(_BAD_INCLUSION_ARGS)))
def test_verify_inclusion_rejects_malformed_arguments(args: tuple[object, ...]) -> None:
    with pytest.raises(InvalidProofError):
        verify_inclusion(*args)  # type: ignore[arg-type]


_R = root_hash([b"a"])
_BAD_CONSISTENCY_ARGS: list[tuple[object, ...]] = [
    (1, 1, _R, _R, None),
    (1, 1, _R, _R, "proof"),
    (1, 1, _R, _R, [1]),
    (1, 2, _R, _R, [b"short"]),
    (1, 2, _R, _R, [None]),
    (1, 1, "root", _R, []),
    (1, 1, _R, bytearray(_R), []),
    (1, 1, _R, None, []),
    (1.0, 1, _R, _R, []),
    (True, True, _R, _R, []),
    (-1, 1, _R, _R, []),
    (0, -1, EMPTY_ROOT, EMPTY_ROOT, []),
    (2, 1, _R, _R, []),
    (0, 0, _R, _R, []),
    (0, 5, _R, _R, []),
    (1, 2**65, _R, _R, [_R]),
    (1, 2, _R, _R, [_R] * 1000),
]


@pytest.mark.parametrize("args", _BAD_CONSISTENCY_ARGS, ids=range(len(_BAD_CONSISTENCY_ARGS)))
def test_verify_consistency_rejects_malformed_arguments(args: tuple[object, ...]) -> None:
    with pytest.raises(InvalidProofError):
        verify_consistency(*args)  # type: ignore[arg-type]


def test_empty_tree_consistency() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 3, EMPTY_ROOT, root_hash([b"a", b"b", b"c"]), [])
    with pytest.raises(InvalidProofError):
        verify_consistency(0, 3, _R, root_hash([b"a", b"b", b"c"]), [])


def test_proof_may_be_any_sequence() -> None:
    entries = _entries(11)
    proof = inclusion_proof(entries, 6)
    verify_inclusion(leaf_hash(entries[6]), 6, 11, tuple(proof), root_hash(entries))


# --- properties -----------------------------------------------------------------------

entry_lists = st.lists(st.binary(max_size=16), min_size=0, max_size=80)


@PROPS
@given(entries=entry_lists)
def test_property_fast_matches_reference(entries: list[bytes]) -> None:
    ref = RefTree(entries)
    n = len(entries)
    assert root_hash(entries) == ref.mth(0, n) == ref_mth(entries)
    cr = CompactRange()
    cr.extend(leaf_hash(e) for e in entries)
    assert cr.root() == ref.mth(0, n)
    nodes = _all_nodes(entries)
    for i in range(n):
        assert assemble_proof(inclusion_proof_nodes(i, n), nodes) == ref.inclusion(i)
    for m in range(n + 1):
        assert assemble_proof(consistency_proof_nodes(m, n), nodes) == ref.consistency(m)


_CORRUPTIONS = ["flip", "drop", "append", "insert", "truncate", "leaf", "root"]


@PROPS
@given(data=st.data(), n=st.integers(1, 300), kind=st.sampled_from(_CORRUPTIONS))
def test_property_corrupted_inclusion_proof_fails(data: st.DataObject, n: int, kind: str) -> None:
    entries = _entries(n, seed=11)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(entries, index)
    leaf, root = leaf_hash(entries[index]), root_hash(entries)
    verify_inclusion(leaf, index, n, proof, root)
    if kind in ("flip", "drop", "truncate") and not proof:
        kind = "append"
    pos = data.draw(st.integers(0, max(len(proof) - 1, 0)), label="pos")
    bit = data.draw(st.integers(0, 255), label="bit")
    if kind == "flip":
        proof[pos] = _flip(proof[pos], bit)
    elif kind == "drop":
        del proof[pos]
    elif kind == "append":
        proof.append(data.draw(st.binary(min_size=32, max_size=32), label="extra"))
    elif kind == "insert":
        proof.insert(pos, data.draw(st.binary(min_size=32, max_size=32), label="extra"))
    elif kind == "truncate":
        proof[pos] = proof[pos][: data.draw(st.integers(0, 31), label="len")]
    elif kind == "leaf":
        leaf = _flip(leaf, bit)
    else:
        root = _flip(root, bit)
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf, index, n, proof, root)


@PROPS
@given(data=st.data(), n=st.integers(2, 300), kind=st.sampled_from(_CORRUPTIONS))
def test_property_corrupted_consistency_proof_fails(data: st.DataObject, n: int, kind: str) -> None:
    entries = _entries(n, seed=13)
    m = data.draw(st.integers(1, n - 1), label="old size")
    proof = consistency_proof(entries, m)
    old, new = root_hash(entries[:m]), root_hash(entries)
    verify_consistency(m, n, old, new, proof)
    pos = data.draw(st.integers(0, len(proof) - 1), label="pos")
    bit = data.draw(st.integers(0, 255), label="bit")
    if kind == "flip":
        proof[pos] = _flip(proof[pos], bit)
    elif kind == "drop":
        del proof[pos]
    elif kind == "append":
        proof.append(data.draw(st.binary(min_size=32, max_size=32), label="extra"))
    elif kind == "insert":
        proof.insert(pos, data.draw(st.binary(min_size=32, max_size=32), label="extra"))
    elif kind == "truncate":
        proof[pos] = proof[pos][: data.draw(st.integers(0, 31), label="len")]
    elif kind == "leaf":
        old = _flip(old, bit)
    else:
        new = _flip(new, bit)
    with pytest.raises(InvalidProofError):
        verify_consistency(m, n, old, new, proof)


@PROPS
@given(n=st.integers(1, 200), data=st.data())
def test_property_mutated_sizes_agree_with_oracle(n: int, data: st.DataObject) -> None:
    """Any (index, size) claim verifies exactly when the recursive oracle says so."""
    entries = _entries(n, seed=17)
    index = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(entries, index)
    leaf, root = leaf_hash(entries[index]), root_hash(entries)
    idx = data.draw(st.integers(0, 2 * n))
    size = data.draw(st.integers(0, 2 * n + 1))
    want = ref_inclusion_ok(leaf, idx, size, proof, root)
    assert _passes(verify_inclusion, leaf, idx, size, proof, root) == want
    m = data.draw(st.integers(0, n))
    cproof = consistency_proof(entries, m)
    old = root_hash(entries[:m])
    s1 = data.draw(st.integers(0, 2 * n))
    s2 = data.draw(st.integers(0, 2 * n + 1))
    want = ref_consistency_ok(s1, s2, old, root, cproof)
    assert _passes(verify_consistency, s1, s2, old, root, cproof) == want


def test_module_exports() -> None:
    for name in merkle.__all__:
        assert hasattr(merkle, name), name
