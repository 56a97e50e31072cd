"""The metering writer process: one-shot calls committed outside the server's interpreter.

A node serves every RPC from one process whose threads share one interpreter lock
(see docs/access.md, "Where a metered lookup's time goes"). A lookup's or a verify's
transaction — the claim, the quota, the ledger append with its tree hashes, the
receipt's signature, the stored usage row — is about a third of the call's work under
that lock, and every statement in it gives the lock away and queues to get it back.
So a node started from a file database runs those transactions in a child process:

* a server thread hands its call (:class:`~services.metering.OnceJob`: licence name,
  request, quantities, outcome, time, usage id) to :class:`MeteringWriter` and waits
  for the answer without the lock. Calls are pipelined: whoever finds no one sending
  sends everything queued as one message, and a receiver thread wakes each caller
  when its answer comes back;
* the child (``python -m services.metering_writer FD``) builds the same
  :class:`~services.metering.Meter` on the same database and region key, commits
  every message that has arrived as ONE transaction exactly as the in-process writer
  would (:meth:`Meter.commit_once`: the record, its rating and the receipt's
  signature are built there too), and answers each call with its receipt or error.

Nothing about the records changes: the child is one more process of the same node on
the same database, which the ledger's sequencer and the claims table already allow
(DESIGN: "nothing may assume it is the only process"). A call is answered only after
the child's transaction committed, so an answer still means durable. If the child
dies, the calls in flight get ``UNAVAILABLE`` / ``METERING_WRITER_STOPPED`` (none
of them was acknowledged; a retry with the same request id finds out whether it
committed, and is metered once) and the next call starts a new child.

The child starts at the node's first lookup or verify, or with ``bashu node serve``
(``Node.prewarm``), and is closed after the server drained (``Node.processes``);
``limits.metering_process = false`` keeps the work in process, as does a node on an
in-memory database or one built with another ledger.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ledger.log import Log
from ledger.sequencer import AppendResult
from services.config import NodeConfig
from services.db import is_memory_database
from services.errors import BashuError, UnavailableError
from services.metering import OnceJob
from services.telemetry import AppendTally, tally_appends

log = logging.getLogger(__name__)

__all__ = ["MeteringWriter", "WriterSpec", "main", "writer_for"]

_STOP_S = 10.0  # how long close() waits for the child to finish its batch and exit
_MAX_BATCH = 256  # calls per transaction in the child (the in-process writer's bound)


@dataclass(frozen=True)
class WriterSpec:
    """What the child needs to build the node's meter (sent as its first message)."""

    database_url: str
    key_file: Path
    origin: str
    region: str
    # A node of the federated market meters relayed calls with RelayMeter (its usage
    # records name the consumer's region); the child must write the same records.
    relay: bool = True


class _TallyingLog(Log):
    """The child's ledger: it tallies what it appends, and the tallies go back with the
    answers so the server's metrics (``MeteredLog.add_tally``) count every use."""

    tally: AppendTally = ({}, {})

    def append_many(self, items: Iterable[tuple[bytes, str]]) -> list[AppendResult]:
        pairs = list(items)
        results = super().append_many(pairs)
        self.tally = tally_appends([data for data, _ in pairs], results, into=self.tally)
        return results

    def take_tally(self) -> AppendTally | None:
        tally, self.tally = self.tally, ({}, {})
        return tally if tally[0] else None


class _Slot:
    """One call waiting for its answer (a bare lock: cheaper than an Event)."""

    __slots__ = ("done", "error", "job", "result")

    def __init__(self, job: OnceJob) -> None:
        self.job = job
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = _thread.allocate_lock()
        self.done.acquire()


class _Child:
    """One child process and what was sent to it and not yet answered."""

    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        # Sent and not answered, oldest first: answers come back in the same order.
        self.inflight: deque[list[_Slot]] = deque()
        self.lost = False  # its in-flight calls were failed; it gets no more
        self.receiver: threading.Thread | None = None
        # A write and the close never overlap: a descriptor closed under a writer can
        # be reused at once by another socket or file of the server, which would then
        # receive the rest of the message.
        self.send_lock = threading.Lock()

    def send(self, message: object) -> None:
        with self.send_lock:
            self.conn.send(message)

    def close(self) -> None:
        with self.send_lock:
            self.conn.close()


class MeteringWriter:
    """The server's handle on its metering writer process (thread-safe).

    Calls are pipelined, not waited on one batch at a time: a caller that finds no
    one sending becomes the sender, sends everything queued (one message) and goes
    back to wait for its own answer; a receiver thread reads the child's answers and
    wakes their callers. The child commits whatever messages have arrived as one
    transaction, so batches grow with the load and no caller waits for a round trip
    it is not part of.
    """

    def __init__(
        self,
        spec: WriterSpec,
        on_tally: Callable[[AppendTally], None] | None = None,
        *,
        command: Sequence[str] = (sys.executable, "-m", "services.metering_writer"),
    ) -> None:
        self._spec = spec
        self._on_tally = on_tally
        self._command = list(command)  # the child's descriptor number is appended
        self._lock = threading.Lock()  # guards everything below
        self._queue: list[_Slot] = []
        self._sending = False
        self._child: _Child | None = None
        self._closed = False

    def start(self) -> None:
        """Start the child now, so the first call does not wait for its imports."""
        with self._lock:
            if self._child is None and not self._closed:
                self._spawn()

    def _spawn(self) -> _Child:
        """Start a child (the lock is held)."""
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [*self._command, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        child = self._child = _Child(proc, Connection(ours.detach()))
        child.send(self._spec)
        child.receiver = threading.Thread(
            target=self._receive, args=(child,), name="metering-writer-rx", daemon=True
        )
        child.receiver.start()
        return child

    def run(self, job: OnceJob) -> Any:
        """Commit ``job`` in the child; its answer once the transaction committed."""
        slot = _Slot(job)
        with self._lock:
            if self._closed:
                raise UnavailableError("the node is shutting down", reason="NODE_DRAINING")
            self._queue.append(slot)
            send = not self._sending
            self._sending = True
        if send:
            self._send_queued()
        slot.done.acquire()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _send_queued(self) -> None:
        """Send what is queued until nothing is (one sender at a time: ``_sending``)."""
        try:
            while True:
                with self._lock:
                    batch, self._queue = self._queue, []
                    if not batch:
                        self._sending = False
                        return
                    try:
                        child = self._child or self._spawn()
                    except Exception as exc:
                        log.error("could not start the metering writer process: %s", exc)
                        _fail(batch, _stopped())
                        continue
                    # In flight before it is sent: the receiver must find what it answers.
                    child.inflight.append(batch)
                try:
                    child.send([s.job for s in batch])
                except Exception:  # the child is gone, or its pipe broke
                    self._lost(child)
        except BaseException:
            with self._lock:  # let the next caller send: never leave the queue stranded
                self._sending = False
            raise

    def _receive(self, child: _Child) -> None:
        """The receiver thread of one child: answer its callers until it stops."""
        try:
            while True:
                replies: list[list[Any]]
                replies, tally = child.conn.recv()
                for answers in replies:
                    with self._lock:
                        if child.lost:  # its callers were answered already
                            return
                        batch = child.inflight.popleft()
                    if len(answers) != len(batch):
                        _fail(batch, _stopped())
                        raise RuntimeError(f"{len(answers)} answers to {len(batch)} calls")
                    for slot, answer in zip(batch, answers, strict=True):
                        if isinstance(answer, BaseException):
                            slot.error = answer
                        else:
                            slot.result = answer
                        slot.done.release()
                if tally is not None and self._on_tally is not None:
                    self._on_tally(tally)
        except (EOFError, OSError):
            pass
        except BaseException:
            # Never leave callers waiting on a child we no longer understand.
            log.exception("the metering writer's answer could not be read")
        finally:
            self._lost(child)
            child.close()  # only here: this thread is the one reading it

    def _lost(self, child: _Child) -> None:
        """``child`` stopped (or must: its pipe failed): fail what it had not answered
        (none of it was acknowledged; whether it committed is for the retry, with the
        same request id, to find out) and let the next call start a new child."""
        with self._lock:
            if child.lost:
                return
            child.lost = True
            lost, child.inflight = list(child.inflight), deque()
            if self._child is child:
                self._child = None
            closed = self._closed
        if lost or not closed:
            log.error("the metering writer process stopped with %d batches in flight", len(lost))
        for batch in lost:
            _fail(batch, _stopped())
        if child.proc.poll() is None and not closed:
            child.proc.kill()  # it may still run if the pipe, not the child, failed
        child.proc.wait()

    def close(self) -> None:
        """Stop the child once it answered everything (call after the server drained)."""
        with self._lock:
            self._closed = True
            child = self._child
        if child is None:
            return
        with contextlib.suppress(OSError):
            child.send(None)
        try:
            child.proc.wait(timeout=_STOP_S)
        except subprocess.TimeoutExpired:
            child.proc.kill()
        if child.receiver is not None:
            child.receiver.join()  # the child is gone, so its pipe has ended
        with self._lock:
            if self._child is child:
                self._child = None

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.proc.pid if child is not None else None


def writer_for(
    config: NodeConfig, on_tally: Callable[[AppendTally], None] | None = None
) -> MeteringWriter | None:
    """The metering writer a node with ``config`` runs (not started), or None if it
    meters in its own threads (turned off, or a database only it can open).
    ``on_tally`` receives what the child appended, for the node's metrics."""
    if not config.limits.metering_process or is_memory_database(config.database_url):
        return None
    return MeteringWriter(
        WriterSpec(config.database_url, config.key_file, config.origin, config.region),
        on_tally,
    )


def _stopped() -> UnavailableError:
    return UnavailableError(
        "the metering writer stopped; retry with the same request id",
        reason="METERING_WRITER_STOPPED",
    )


def _fail(batch: list[_Slot], error: BaseException) -> None:
    for slot in batch:
        slot.error = error
        slot.done.release()


def _portable(answer: Any) -> Any:
    """An answer the parent can unpickle. An error crosses whole, so the caller gets
    what the in-process writer would have raised (a database or ledger failure
    included: the server maps it to a status as usual); one that does not survive
    pickling becomes INTERNAL. Unexpected errors are logged here, with the traceback
    that does not cross."""
    if not isinstance(answer, BaseException):
        return answer
    if not isinstance(answer, BashuError):
        log.error("metering writer: %r", answer, exc_info=answer)
    try:
        # Our own bytes, just made: the check is whether they unpickle at all.
        pickle.loads(pickle.dumps(answer))  # noqa: S301
    except Exception:
        log.exception("metering writer: an error that does not cross the pipe")
        return BashuError(f"the metering writer failed: {type(answer).__name__}")
    return answer


def serve(conn: Connection) -> None:
    """The child's loop: build the meter, then commit batches until told to stop."""
    from services.dataplane import SqlLicenceDirectory, TariffRater
    from services.db import make_engine
    from services.keys import known_verifiers, load_region_key
    from services.market import RelayMeter
    from services.metering import Meter, reading_engine

    spec: WriterSpec = conn.recv()
    engine = make_engine(spec.database_url, pool_size=2)
    signer = load_region_key(spec.key_file)
    ledger = _TallyingLog(
        engine,
        signer,
        spec.origin,
        previous_verifiers=known_verifiers(engine, spec.key_file)[1:],
    )
    reads = reading_engine(engine)
    meter = (RelayMeter if spec.relay else Meter)(
        engine,
        ledger,
        signer,
        spec.region,
        rater=TariffRater(reads, spec.region),
        reads=reads,
    )
    directory = SqlLicenceDirectory(reads, spec.region)
    try:
        stop = False
        while not stop:
            try:
                first = conn.recv()
            except EOFError:  # the server went away
                break
            if first is None:
                break
            # Everything that arrived meanwhile joins this transaction.
            messages: list[list[OnceJob]] = [first]
            count = len(first)
            while count < _MAX_BATCH and conn.poll():
                more = conn.recv()
                if more is None:
                    stop = True
                    break
                messages.append(more)
                count += len(more)
            answers = meter.commit_once(directory, [j for m in messages for j in m])
            replies, at = [], 0
            for m in messages:
                replies.append([_portable(a) for a in answers[at : at + len(m)]])
                at += len(m)
            conn.send((replies, ledger.take_tally()))
    finally:
        meter.close()
        ledger.close()
        if reads is not engine:
            reads.dispose()
        engine.dispose()


def main() -> None:
    # The server owns this process: a Ctrl-C or SIGTERM sent to the whole process
    # group must let the server drain (its calls still need us) and close the pipe,
    # which is what ends this loop. A server that dies outright closes it too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=os.environ.get("BASHU_LOG_LEVEL", "WARNING"),
        format="%(asctime)s metering-writer %(levelname)s %(name)s: %(message)s",
    )
    conn = Connection(int(sys.argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
