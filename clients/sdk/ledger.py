"""Ledger client: fetch checkpoints and proofs, and verify them locally.

Nothing the node sends is trusted: checkpoints are opened with the region's
verifier key (signature first, then parsing), and proofs are checked with the RFC
9162 algorithms in :mod:`ledger.merkle` before they are returned::

    client = connect("127.0.0.1:50051", api_key)
    vkey = client.ledger.public_key()            # pin it out of band in real use
    cp = client.ledger.checkpoint(vkey)          # verified Checkpoint
    client.ledger.prove_inclusion(vkey, index=3) # raises VerificationError if bad
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from clients.sdk.channel import ErrorTranslating
from clients.sdk.errors import VerificationError
from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import LedgerError
from ledger.note import Verifier

__all__ = ["InclusionProof", "LedgerClient", "verify_checkpoint_note", "verify_inclusion_offline"]


@dataclass(frozen=True)
class InclusionProof:
    index: int
    leaf_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint_note: str
    checkpoint: Checkpoint


def verify_checkpoint_note(note: str, vkey: str, origin: str | None = None) -> Checkpoint:
    """Open a signed checkpoint with ``vkey``; raise VerificationError if it fails."""
    try:
        verifier = Verifier.from_vkey(vkey)
        cp: Checkpoint = open_checkpoint(note, verifier, origin=origin or verifier.name)
        return cp
    except LedgerError as exc:
        raise VerificationError(f"checkpoint does not verify: {exc}") from exc


def verify_inclusion_offline(
    vkey: str,
    leaf_hash: bytes,
    index: int,
    hashes: tuple[bytes, ...] | list[bytes],
    checkpoint_note: str,
) -> Checkpoint:
    """Check that ``leaf_hash`` is entry ``index`` of the log the checkpoint commits to."""
    cp = verify_checkpoint_note(checkpoint_note, vkey)
    try:
        merkle.verify_inclusion(leaf_hash, index, cp.size, list(hashes), cp.root_hash)
    except LedgerError as exc:
        raise VerificationError(f"inclusion proof of entry {index} fails: {exc}") from exc
    return cp


class LedgerClient:
    def __init__(self, stub: ledger_pb2_grpc.LedgerServiceStub, region: str | None = None) -> None:
        self._stub = ErrorTranslating(stub)
        self._log = f"regions/{region}/log" if region else ""

    def public_key(self) -> str:
        """The region's verifier key as the node states it (pin it independently)."""
        resp = self._stub.GetPublicKey(ledger_pb2.GetPublicKeyRequest(log=self._log))
        return str(resp.verifier_key)

    def checkpoint_message(self, min_tree_size: int = 0) -> common_pb2.Checkpoint:
        resp = self._stub.GetCheckpoint(
            ledger_pb2.GetCheckpointRequest(log=self._log, min_tree_size=min_tree_size)
        )
        checkpoint: common_pb2.Checkpoint = resp.checkpoint
        return checkpoint

    def checkpoint(self, vkey: str, min_tree_size: int = 0) -> Checkpoint:
        """The latest checkpoint, verified with ``vkey``."""
        return verify_checkpoint_note(self.checkpoint_message(min_tree_size).signed_note, vkey)

    def get_entry(self, index: int) -> ledger_pb2.Entry:
        resp = self._stub.GetEntry(ledger_pb2.GetEntryRequest(log=self._log, index=index))
        entry: ledger_pb2.Entry = resp.entry
        if merkle.leaf_hash(entry.data) != entry.leaf_hash:
            raise VerificationError(f"entry {index}: leaf hash does not match its bytes")
        return entry

    def entries(self, start: int = 0, page_size: int = 500) -> Iterator[ledger_pb2.Entry]:
        token = ""
        while True:
            resp = self._stub.ListEntries(
                ledger_pb2.ListEntriesRequest(
                    log=self._log, start_index=start, page_size=page_size, page_token=token
                )
            )
            yield from resp.entries
            token = resp.next_page_token
            if not token:
                return

    def prove_inclusion(self, vkey: str, index: int, tree_size: int = 0) -> InclusionProof:
        """Fetch and verify an inclusion proof of entry ``index``."""
        entry = self.get_entry(index)
        resp = self._stub.GetInclusionProof(
            ledger_pb2.GetInclusionProofRequest(
                log=self._log, index=index, leaf_hash=entry.leaf_hash, tree_size=tree_size
            )
        )
        note = resp.checkpoint.signed_note
        cp = verify_inclusion_offline(vkey, entry.leaf_hash, index, list(resp.hashes), note)
        return InclusionProof(index, entry.leaf_hash, cp.size, tuple(resp.hashes), note, cp)

    def prove_consistency(self, vkey: str, old: Checkpoint, new_size: int = 0) -> Checkpoint:
        """Check that the log's newer checkpoint extends ``old``; return the newer one."""
        resp = self._stub.GetConsistencyProof(
            ledger_pb2.GetConsistencyProofRequest(
                log=self._log, first_tree_size=old.size, second_tree_size=new_size
            )
        )
        new = verify_checkpoint_note(resp.second_checkpoint.signed_note, vkey)
        try:
            merkle.verify_consistency(
                old.size, new.size, old.root_hash, new.root_hash, list(resp.hashes)
            )
        except LedgerError as exc:
            raise VerificationError(f"log is not consistent with size {old.size}: {exc}") from exc
        return new
