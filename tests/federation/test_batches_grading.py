"""Grading a usage batch against the consumer's records (pure: no database, no network).

A batch is built and signed as the provider seals it; the consumer's view is a plain
value. Each fault is introduced on its own and must come back with its grade and
code: FATAL refuses the batch whole, SEVERE returns the named records, WARNING only
notes. A use the consumer has not recorded yet and that is still young is neither
(it is "pending": the consumer waits instead of refusing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2

from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.log import Log
from ledger.note import Signer, Verifier
from services.batches import (
    Consumed,
    ConsumerView,
    Grading,
    UsageItem,
    build_body,
    grade_batch,
    seal_body,
)
from services.db import make_engine
from services.migrate import upgrade
from services.witness import checkpoint_proto

SC = Signer.generate("bashu.exchange/log/sc")
OTHER = Signer.generate("bashu.exchange/log/sc")  # same name, another key
VERIFIERS = [Verifier.from_vkey(SC.vkey())]
NOW = 1_790_000_000_000_000  # µs
HOUR = 3_600_000_000


def _item(n: int, *, fen: int = 100, time_us: int | None = None) -> UsageItem:
    return UsageItem(
        usage_record_id=f"regions/cq/parties/p1/req-{n}",
        index=10 + n,
        leaf_hash=hashlib.sha256(f"leaf {n}".encode()).digest(),
        calls=1,
        rows=n,
        bytes=100 * n,
        amount_fen=fen,
        time_us=time_us if time_us is not None else NOW - 2 * HOUR + n,
    )


def _consumed(item: UsageItem, **changes: int) -> Consumed:
    values = {
        "usage_record_id": item.usage_record_id,
        "entry_index": item.index,
        "leaf_hash": item.leaf_hash,
        "calls": item.calls,
        "rows": item.rows,
        "bytes": item.bytes,
        "amount_fen": item.amount_fen,
        "time_us": item.time_us,
    }
    values.update(changes)
    return Consumed(**values)  # type: ignore[arg-type]


ITEMS = [_item(n) for n in range(1, 6)]


def _body(items: list[UsageItem] = ITEMS, **kw: object) -> federation_pb2.UsageBatchBody:
    return build_body(
        "sc",
        "cq",
        kw.pop("sequence", 1),  # type: ignore[arg-type]
        items,
        period="2026-09",
        checkpoint=kw.pop("checkpoint", common_pb2.Checkpoint()),  # type: ignore[arg-type]
        seal_us=NOW,
        **kw,  # type: ignore[arg-type]
    )


def _view(consumed: list[Consumed], **kw: object) -> Callable[[object], ConsumerView]:
    view = ConsumerView(
        consumed={c.usage_record_id: c for c in consumed},
        now_us=NOW,
        grace_us=HOUR,
        **kw,  # type: ignore[arg-type]
    )
    return lambda _body: view


def _grade(
    batch: federation_pb2.UsageBatch,
    consumed: list[Consumed] | None = None,
    *,
    open_cp: Callable[[str], Checkpoint] | None = None,
    **kw: object,
) -> Grading:
    consumed = [_consumed(i) for i in ITEMS] if consumed is None else consumed
    return grade_batch(
        batch,
        VERIFIERS,
        _view(consumed, **kw),
        provider="sc",
        consumer="cq",
        open_checkpoint=open_cp,
    )


def _seal(body: federation_pb2.UsageBatchBody, signer: Signer = SC) -> federation_pb2.UsageBatch:
    return seal_body(signer, "sc", body, now=NOW / 1e6)


def test_a_batch_matching_the_consumption_records_is_countersigned() -> None:
    batch = _seal(_body())
    grading = _grade(batch)
    assert grading.errors == ()
    assert grading.pending == ()
    assert not grading.refused
    body = grading.body
    assert body is not None
    assert body.name == "regions/sc/batches/cq/1"
    assert body.record_count == 5
    assert body.total_amount.amount_fen == 500
    assert (body.total_quantity.calls, body.total_quantity.rows) == (5, 15)
    assert body.time_range.start_time.ToMicroseconds() == ITEMS[0].time_us
    assert body.time_range.end_time.ToMicroseconds() == ITEMS[-1].time_us + 1


def test_wrong_total_is_fatal() -> None:
    body = _body()
    body.total_amount.amount_fen += 1  # signed by the provider, but does not add up
    grading = _grade(_seal(body))
    assert grading.codes() == [("FATAL", "TOTAL_MISMATCH")]
    assert grading.refused
    assert grading.fatal

    body = _body()
    body.total_quantity.bytes -= 1
    assert _grade(_seal(body)).codes() == [("FATAL", "TOTAL_MISMATCH")]


def test_wrong_record_count_or_root_is_fatal() -> None:
    body = _body()
    body.record_count = 4
    assert _grade(_seal(body)).codes() == [("FATAL", "RECORD_COUNT_MISMATCH")]

    body = _body()
    body.merkle_root = hashlib.sha256(b"another tree").digest()
    assert _grade(_seal(body)).codes() == [("FATAL", "MERKLE_ROOT_MISMATCH")]

    body = _body()
    body.entries[0].leaf_hash = hashlib.sha256(b"swapped").digest()  # root no longer matches
    assert _grade(_seal(body)).codes() == [("FATAL", "MERKLE_ROOT_MISMATCH")]


def test_tampered_signature_or_body_is_fatal() -> None:
    batch = _seal(_body())
    tampered = federation_pb2.UsageBatch()
    tampered.CopyFrom(batch)
    tampered.body = batch.body[:-1] + bytes([batch.body[-1] ^ 1])
    grading = _grade(tampered)
    assert grading.codes() == [("FATAL", "SIGNATURE_INVALID")]
    assert grading.body is None  # never parsed: the signature comes first

    bad_sig = federation_pb2.UsageBatch()
    bad_sig.CopyFrom(batch)
    bad_sig.provider_signature.signature = bytes(64)
    assert _grade(bad_sig).codes() == [("FATAL", "SIGNATURE_INVALID")]

    # The right key name but another key (not the provider's): refused too.
    assert _grade(_seal(_body(), OTHER)).codes() == [("FATAL", "SIGNATURE_INVALID")]


def test_batch_for_another_region_is_fatal() -> None:
    body = _body()
    body.consumer_region = "sg"
    assert _grade(_seal(body)).codes() == [("FATAL", "WRONG_REGIONS")]


def test_fatal_stops_the_check_of_the_entries() -> None:
    body = _body()
    body.total_amount.amount_fen = 0
    # The consumer has nothing: entries would be EXTRA_RECORD, but the batch is refused
    # whole before they are judged.
    assert _grade(_seal(body), []).codes() == [("FATAL", "TOTAL_MISMATCH")]


def test_extra_record_is_severe_and_names_the_record() -> None:
    consumed = [_consumed(i) for i in ITEMS if i is not ITEMS[2]]
    grading = _grade(_seal(_body()), consumed)
    assert grading.codes() == [("SEVERE", "EXTRA_RECORD")]
    (error,) = grading.errors
    assert error.usage_record_id == ITEMS[2].usage_record_id
    assert error.entry_index == ITEMS[2].index
    assert error.leaf_hash == ITEMS[2].leaf_hash
    assert grading.refused
    assert not grading.fatal


def test_young_unrecorded_use_is_pending_not_refused() -> None:
    young = _item(9, time_us=NOW - 1_000_000)  # a second old: consumption in flight
    items = [*ITEMS, young]
    grading = _grade(_seal(_body(items)))
    assert grading.errors == ()
    assert grading.pending == (young.usage_record_id,)
    assert not grading.refused


def test_missing_record_is_severe() -> None:
    # The consumer recorded a use inside the batch's time range that the batch leaves out.
    left_out = ITEMS[1]
    items = [i for i in ITEMS if i is not left_out]
    grading = _grade(_seal(_body(items)))
    assert grading.codes() == [("SEVERE", "MISSING_RECORD")]
    (error,) = grading.errors
    assert error.usage_record_id == left_out.usage_record_id
    assert error.entry_index == left_out.index

    # Covered by a batch countersigned before: not missing.
    covered = frozenset({left_out.usage_record_id})
    assert _grade(_seal(_body(items)), covered=covered).errors == ()
    # Outside the range (after the last entry): it belongs to a later batch.
    assert _grade(_seal(_body(ITEMS[:-1]))).errors == ()


def test_amount_and_quantity_differences_are_severe() -> None:
    consumed = [_consumed(i) for i in ITEMS]
    consumed[0] = _consumed(ITEMS[0], amount_fen=99)
    consumed[3] = _consumed(ITEMS[3], rows=0)
    grading = _grade(_seal(_body()), consumed)
    assert grading.codes() == [("SEVERE", "AMOUNT_MISMATCH"), ("SEVERE", "QUANTITY_MISMATCH")]
    assert [e.usage_record_id for e in grading.errors] == [
        ITEMS[0].usage_record_id,
        ITEMS[3].usage_record_id,
    ]


def test_duplicates_are_severe() -> None:
    items = [*ITEMS, ITEMS[0]]
    assert ("SEVERE", "DUPLICATE_ENTRY") in _grade(_seal(_body(items))).codes()
    covered = frozenset({ITEMS[4].usage_record_id})
    assert _grade(_seal(_body()), covered=covered).codes() == [("SEVERE", "DUPLICATE_ENTRY")]


def test_warnings_do_not_stop_countersigning() -> None:
    consumed = [_consumed(i) for i in ITEMS]
    consumed[1] = _consumed(ITEMS[1], time_us=ITEMS[1].time_us + 5)
    grading = _grade(_seal(_body()), consumed, last_end_us=ITEMS[0].time_us + 1)
    assert sorted(grading.codes()) == [
        ("WARNING", "LATE_RECORD"),
        ("WARNING", "TIME_SKEW"),
    ]
    assert not grading.refused
    assert len(grading.warnings) == 2

    corrected = _seal(_body(corrects_return="regions/cq/batchReturns/unknown"))
    assert _grade(corrected).codes() == [("WARNING", "UNKNOWN_RETURN")]
    known = frozenset({"regions/cq/batchReturns/unknown"})
    assert _grade(corrected, returns=known).errors == ()


def test_checkpoint_must_verify_and_include_every_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cp.db"
    upgrade(url)
    engine = make_engine(url)
    log = Log(engine, SC, SC.name)
    try:
        for n in range(12):
            log.append(f"entry {n}".encode(), f"k{n}")
        small = log.checkpoint()  # size 12: entries 11..15 are not in it
        for n in range(12, 20):
            log.append(f"entry {n}".encode(), f"k{n}")
        big = log.checkpoint()
    finally:
        log.close()
        engine.dispose()

    def opener(note: str) -> Checkpoint:
        return open_checkpoint(note, VERIFIERS[0], origin=SC.name)

    ok = _body(checkpoint=checkpoint_proto(big.note, big.checkpoint))
    assert _grade(_seal(ok), open_cp=opener).errors == ()
    short = _body(checkpoint=checkpoint_proto(small.note, small.checkpoint))
    assert _grade(_seal(short), open_cp=opener).codes() == [("FATAL", "CHECKPOINT_INVALID")]
    forged = _body(checkpoint=common_pb2.Checkpoint(signed_note="not a note"))
    assert _grade(_seal(forged), open_cp=opener).codes() == [("FATAL", "CHECKPOINT_INVALID")]
