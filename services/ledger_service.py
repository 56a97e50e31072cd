"""LedgerService: checkpoints, entries and proofs of the region's log.

Thin by design: it converts protobuf to calls on :class:`ledger.log.Log` and back.
Every proof answer carries the signed checkpoint it is against, so a client can
verify the proof with nothing but the region's public key. ``GetCheckpoint`` also
hands out the peers' witness cosignatures of that checkpoint, found by the
``cosignatures`` look-up the node wires in (see :mod:`services.witness`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

import grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ledger.log import Entry, Log, SignedCheckpoint
from ledger.note import Signer
from services.errors import FieldViolation, InvalidArgumentError, NotFoundError

__all__ = ["LedgerServicer", "checkpoint_message", "entry_message"]

DEFAULT_PAGE = 50
MAX_PAGE = 1000


def _ts(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def checkpoint_message(signed: SignedCheckpoint) -> common_pb2.Checkpoint:
    cp = signed.checkpoint
    return common_pb2.Checkpoint(
        origin=cp.origin,
        tree_size=cp.size,
        root_hash=cp.root_hash,
        signed_note=signed.note,
        sign_time=_ts(signed.created_at),
    )


def entry_message(entry: Entry) -> ledger_pb2.Entry:
    return ledger_pb2.Entry(
        index=entry.index,
        data=entry.data,
        leaf_hash=entry.leaf_hash,
        idempotency_key=entry.idempotency_key,
        append_time=_ts(entry.appended_at),
    )


def _encode_token(index: int) -> str:
    return base64.urlsafe_b64encode(f"entry:{index}".encode()).decode()


def _decode_token(token: str, what: str = "entry") -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        index = int(value)
        if kind != what or index < 0:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError(
            [FieldViolation("page_token", "not a token this server issued")],
            reason="INVALID_PAGE_TOKEN",
        ) from None
    return index


def _page_size(value: int) -> int:
    if value < 0:
        raise InvalidArgumentError([FieldViolation("page_size", "must not be negative")])
    return min(value or DEFAULT_PAGE, MAX_PAGE)


# (tree size, root hash) -> the cosignatures witnesses made of that checkpoint.
CosignatureLookup = Callable[[int, bytes], Sequence[common_pb2.Cosignature]]


def _no_cosignatures(_size: int, _root: bytes) -> Sequence[common_pb2.Cosignature]:
    return ()


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(
        self,
        log: Log,
        signer: Signer,
        region: str,
        cosignatures: CosignatureLookup = _no_cosignatures,
    ) -> None:
        self._log = log
        self._signer = signer
        self._region = region
        self._log_name = f"regions/{region}/log"
        self._cosignatures = cosignatures

    def _check_log(self, name: str) -> None:
        if name and name != self._log_name:
            raise NotFoundError(name, reason="LOG_NOT_FOUND")

    def _checkpoint_of_size(self, size: int) -> SignedCheckpoint:
        """The stored checkpoint of exactly ``size`` entries (0: the latest, signed now
        if the log has grown)."""
        if size == 0:
            return self._log.checkpoint(new_if_stale=True)
        if size > self._log.size():
            from ledger.errors import TreeSizeError

            raise TreeSizeError(size, self._log.size())
        signed = self._log.checkpoint_at_least(size)
        if signed is None or signed.checkpoint.size != size:
            raise NotFoundError(
                f"checkpoint of tree size {size} (use 0 or a published size)",
                reason="CHECKPOINT_NOT_FOUND",
            )
        return signed

    def GetCheckpoint(
        self, request: ledger_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetCheckpointResponse:
        self._check_log(request.log)
        if request.min_tree_size < 0:
            raise InvalidArgumentError([FieldViolation("min_tree_size", "must not be negative")])
        signed = self._log.checkpoint(new_if_stale=True)
        if signed.checkpoint.size < request.min_tree_size:
            from ledger.errors import TreeSizeError

            raise TreeSizeError(request.min_tree_size, signed.checkpoint.size)
        return ledger_pb2.GetCheckpointResponse(
            checkpoint=checkpoint_message(signed),
            cosignatures=self._cosignatures(signed.checkpoint.size, signed.checkpoint.root_hash),
        )

    def ListEntries(
        self, request: ledger_pb2.ListEntriesRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.ListEntriesResponse:
        self._check_log(request.log)
        size = _page_size(request.page_size)
        if request.start_index < 0:
            raise InvalidArgumentError([FieldViolation("start_index", "must not be negative")])
        start = _decode_token(request.page_token) if request.page_token else request.start_index
        tree_size = self._log.size()
        entries = self._log.entries(start, size) if start < tree_size else []
        nxt = start + len(entries)
        return ledger_pb2.ListEntriesResponse(
            entries=[entry_message(e) for e in entries],
            next_page_token=_encode_token(nxt) if entries and nxt < tree_size else "",
            tree_size=tree_size,
        )

    def GetEntry(
        self, request: ledger_pb2.GetEntryRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetEntryResponse:
        self._check_log(request.log)
        which = request.WhichOneof("selector")
        if which == "idempotency_key":
            entry = self._log.get_entry_by_key(request.idempotency_key)
        elif which == "index":
            entry = self._log.get_entry(request.index)
        else:
            raise InvalidArgumentError(
                [FieldViolation("selector", "give an index or an idempotency_key")]
            )
        return ledger_pb2.GetEntryResponse(entry=entry_message(entry))

    def GetInclusionProof(
        self, request: ledger_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetInclusionProofResponse:
        self._check_log(request.log)
        violations = []
        if request.index < 0:
            violations.append(FieldViolation("index", "must not be negative"))
        if request.tree_size < 0:
            violations.append(FieldViolation("tree_size", "must not be negative"))
        if request.leaf_hash and len(request.leaf_hash) != 32:
            violations.append(FieldViolation("leaf_hash", "must be 32 bytes"))
        if violations:
            raise InvalidArgumentError(violations)
        entry = self._log.get_entry(request.index)
        if request.leaf_hash and request.leaf_hash != entry.leaf_hash:
            raise InvalidArgumentError(
                [FieldViolation("leaf_hash", f"entry {request.index} has another leaf hash")]
            )
        signed = self._checkpoint_of_size(request.tree_size)
        if signed.checkpoint.size <= request.index:
            signed = self._log.checkpoint(new_if_stale=True)
        size = signed.checkpoint.size
        return ledger_pb2.GetInclusionProofResponse(
            index=request.index,
            tree_size=size,
            hashes=self._log.inclusion_proof(request.index, size),
            checkpoint=checkpoint_message(signed),
        )

    def GetConsistencyProof(
        self, request: ledger_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetConsistencyProofResponse:
        self._check_log(request.log)
        if request.first_tree_size < 0 or request.second_tree_size < 0:
            raise InvalidArgumentError(
                [FieldViolation("first_tree_size", "sizes must not be negative")]
            )
        second = self._checkpoint_of_size(request.second_tree_size)
        first_size, second_size = request.first_tree_size, second.checkpoint.size
        if first_size > second_size:
            raise InvalidArgumentError(
                [FieldViolation("first_tree_size", "must not exceed second_tree_size")],
                reason="INVALID_TREE_SIZES",
            )
        first = self._log.checkpoint_at_least(first_size) if first_size else None
        response = ledger_pb2.GetConsistencyProofResponse(
            first_tree_size=first_size,
            second_tree_size=second_size,
            hashes=self._log.consistency_proof(first_size, second_size) if first_size else [],
            second_checkpoint=checkpoint_message(second),
        )
        if first is not None and first.checkpoint.size == first_size:
            response.first_checkpoint.CopyFrom(checkpoint_message(first))
        return response

    def ListCheckpoints(
        self, request: ledger_pb2.ListCheckpointsRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.ListCheckpointsResponse:
        self._check_log(request.log)
        size = _page_size(request.page_size)
        skip = _decode_token(request.page_token, "checkpoint") if request.page_token else 0
        rows = [
            c for c in self._log.list_checkpoints() if c.checkpoint.size >= request.min_tree_size
        ]
        page = rows[skip : skip + size]
        more = skip + size < len(rows)
        token = (
            base64.urlsafe_b64encode(f"checkpoint:{skip + size}".encode()).decode() if more else ""
        )
        return ledger_pb2.ListCheckpointsResponse(
            checkpoints=[checkpoint_message(c) for c in page], next_page_token=token
        )

    def GetPublicKey(
        self, request: ledger_pb2.GetPublicKeyRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetPublicKeyResponse:
        self._check_log(request.log)
        return ledger_pb2.GetPublicKeyResponse(
            region=self._region,
            key_name=self._signer.name,
            verifier_key=self._signer.vkey(),
            public_key=self._signer.public_key,
        )
