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
import functools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ledger.log import Log
from ledger.note import Signer
from ledger.sequencer import AppendResult
from services.config import NodeConfig
from services.dataplane import SqlLicenceDirectory, TariffRater
from services.db import is_memory_database, make_engine
from services.errors import BashuError, UnavailableError
from services.market import RelayMeter
from services.metering import OnceJob, reading_engine
from services.telemetry import AppendTally, MeteredLog, tally_appends

log = logging.getLogger(__name__)

__all__ = ["MeteringWriter", "WriterSpec", "main", "writer_for"]

_STOP_S = 10.0  # how long close() waits for the child to finish its batch and exit
# A transaction stops merging further messages once it holds this many calls (a
# message is never split, so one may run a little over).
_MAX_BATCH = 256
_READY = "ready"  # the child's first message once its meter is built
_BACKOFF_S = (0.5, 30.0)  # wait before starting again a child that failed to start


@dataclass(frozen=True)
class WriterSpec:
    """What the child needs to build the node's meter (sent as its first message)."""

    database_url: str
    origin: str
    region: str
    # The very key the server loaded (a rotation takes effect at the server's
    # restart, and the child must sign with the server's key until then). It only
    # crosses the socketpair between the two processes; never printed.
    skey: str = field(repr=False)


class _TallyingLog(Log):
    """The child's ledger: it tallies what it appends, and the tallies go back with the
    answers so the server's metrics (``MeteredLog.add_tally``) count every use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tally: AppendTally = ({}, {})

    def append_many(self, items: Iterable[tuple[bytes, str]]) -> list[AppendResult]:
        pairs = list(items)
        results = super().append_many(pairs)
        tally_appends([data for data, _ in pairs], results, into=self._tally)
        return results

    def take_tally(self) -> AppendTally | None:
        tally, self._tally = self._tally, ({}, {})
        return tally if tally[0] else None


class _Slot:
    """One call waiting (a bare lock: cheaper than an Event). The lock is released
    once with the answer, or first to hand this caller the sending (``lead``)."""

    __slots__ = ("answered", "done", "error", "job", "lead", "result")

    def __init__(self, job: OnceJob) -> None:
        self.job = job
        self.result: Any = None
        self.error: BaseException | None = None
        self.answered = False
        self.lead = False
        self.done = _thread.allocate_lock()
        self.done.acquire()

    def answer(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.answered = result, error, True
        self.done.release()


class _Child:
    """One child process and what was sent to it and not yet answered."""

    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        # Sent and not answered, oldest first: answers come back in the same order.
        self.inflight: deque[list[_Slot]] = deque()
        self.ready = False  # it said its meter is built
        self.lost = False  # its in-flight calls were failed; it gets no more
        # A write and the close never overlap: a descriptor closed under a writer can
        # be reused at once by another socket or file of the server, which would then
        # receive the rest of the message.
        self.send_lock = threading.Lock()

    def send_bytes(self, payload: bytes, timeout: float = -1) -> bool:
        if not self.send_lock.acquire(timeout=timeout):
            return False
        try:
            self.conn.send_bytes(payload)
        finally:
            self.send_lock.release()
        return True

    def close(self) -> None:
        with self.send_lock:
            self.conn.close()

    def end(self) -> None:
        """Make sure the process is gone and reaped."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class MeteringWriter:
    """The server's handle on its metering writer process (thread-safe).

    Calls are pipelined, not waited on one batch at a time: a caller that finds no
    one sending becomes the sender, sends everything queued (one message per pass)
    and goes back to wait for its own answer, handing the sending to the oldest
    queued caller if more came meanwhile; a receiver thread reads the child's
    answers and wakes their callers. The child commits whatever messages have
    arrived as one transaction, so batches grow with the load and no caller waits
    for a round trip it is not part of.
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
        self._backoff = 0.0  # after a failed start: how long the next one waits
        self._retry_at = 0.0  # time.monotonic() before which no child is started
        self._start_failure: Callable[[], BaseException] = _stopped  # why, meanwhile

    def start(self) -> None:
        """Start the child now, so the first call does not wait for its imports. A
        child that cannot start is logged, and the next call tries again."""
        with self._lock:
            if self._child is None and not self._closed:
                try:
                    self._spawn()
                except Exception:
                    log.exception("could not start the metering writer process")

    def _spawn(self) -> _Child:
        """Start a child (the lock is held): registered only once it is fully wired."""
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [*self._command, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # Its own session: a Ctrl-C or SIGTERM to the server's process group
                # must not stop it while the server drains (the server closes it).
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        child = _Child(proc, Connection(ours.detach()))
        try:
            child.send_bytes(pickle.dumps(self._spec))
            threading.Thread(
                target=self._receive, args=(child,), name="metering-writer-rx", daemon=True
            ).start()
        except BaseException:
            child.close()
            child.end()
            raise
        self._child = child
        return child

    def run(self, job: OnceJob) -> Any:
        """Commit ``job`` in the child; its answer once the transaction committed."""
        slot = _Slot(job)
        with self._lock:
            if self._closed:
                raise _draining()
            self._queue.append(slot)
            send = not self._sending
            self._sending = True
        if send:
            self._send_queued(slot)
        while True:
            slot.done.acquire()
            if not slot.lead:
                break
            slot.lead = False  # handed the sending while still queued
            self._send_queued(slot)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _send_queued(self, own: _Slot) -> None:
        """Send what is queued, one message per pass, while this caller waits anyway;
        once its own answer is in, hand the sending to the oldest queued caller."""
        try:
            while True:
                with self._lock:
                    batch, self._queue = self._queue, []
                    if not batch:
                        self._sending = False
                        return
                try:
                    payload = pickle.dumps([s.job for s in batch])
                except Exception as exc:  # a job that cannot cross: fail only its batch
                    log.exception("metering writer: a batch that does not pickle")
                    _fail(batch, functools.partial(BashuError, f"cannot send the call: {exc}"))
                    continue
                with self._lock:
                    child = self._child
                    error = self._cannot_start(child)
                    if error is None and child is None:
                        try:
                            child = self._spawn()
                        except Exception as exc:
                            error = self._failed_start(f"{type(exc).__name__}: {exc}")
                    if child is None or error is not None:
                        _fail(batch, error or _stopped)
                        continue
                    # In flight before it is sent: the receiver must find what it answers.
                    child.inflight.append(batch)
                try:
                    child.send_bytes(payload)
                except Exception:  # the child is gone, or its pipe broke
                    self._lost(child)
                if own.answered:
                    with self._lock:
                        if not self._queue:
                            self._sending = False
                            return
                        nxt = self._queue[0]
                        nxt.lead = True
                    nxt.done.release()
                    return
        except BaseException:
            with self._lock:  # let the next caller send: never leave the queue stranded
                self._sending = False
            raise

    def _cannot_start(self, child: _Child | None) -> Callable[[], BaseException] | None:
        """Why no call can be sent now (the lock is held), or None."""
        if self._closed:
            return _draining
        if child is None and time.monotonic() < self._retry_at:
            return self._start_failure
        return None

    def _failed_start(self, message: str) -> Callable[[], BaseException]:
        """Note a child that did not start (the lock is held): later calls fail at once
        until the back-off ends, instead of each paying for a new interpreter."""
        self._backoff = min(max(self._backoff * 2, _BACKOFF_S[0]), _BACKOFF_S[1])
        self._retry_at = time.monotonic() + self._backoff
        log.error("the metering writer process did not start: %s", message)
        self._start_failure = lambda: UnavailableError(
            f"the metering writer could not start ({message})", reason="METERING_WRITER_STOPPED"
        )
        return self._start_failure

    def _receive(self, child: _Child) -> None:
        """The receiver thread of one child: answer its callers until it stops."""
        why = ""
        try:
            first = child.conn.recv()
            if first != _READY:
                why = str(first)
                return
            with self._lock:
                child.ready = True
                self._backoff = 0.0
            while True:
                replies: list[list[Any]]
                replies, tally = child.conn.recv()
                for answers in replies:
                    with self._lock:
                        if child.lost:  # its callers were answered already
                            return
                        batch = child.inflight.popleft()
                    if len(answers) != len(batch):
                        _fail(batch, _stopped)
                        raise RuntimeError(f"{len(answers)} answers to {len(batch)} calls")
                    for slot, answer in zip(batch, answers, strict=True):
                        if isinstance(answer, BaseException):
                            slot.answer(error=answer)
                        else:
                            slot.answer(answer)
                if tally is not None and self._on_tally is not None:
                    try:
                        self._on_tally(tally)
                    except Exception:  # metrics must not stop metering
                        log.exception("metering writer: could not count its appends")
        except (EOFError, OSError):
            pass
        except BaseException:
            # Never leave callers waiting on a child we no longer understand.
            log.exception("the metering writer's answer could not be read")
        finally:
            self._lost(child, why)
            child.close()  # only here: this thread is the one reading it

    def _lost(self, child: _Child, why: str = "") -> None:
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
            error: Callable[[], BaseException] = _stopped
            if not child.ready and not closed:
                error = self._failed_start(why or f"it exited with status {child.proc.poll()}")
        if lost or (child.ready and not closed):
            log.error(
                "the metering writer process stopped (status %s) with %d batches in flight",
                child.proc.poll(),
                len(lost),
            )
        for batch in lost:
            _fail(batch, error)
        if not closed:
            child.end()  # it may still run if the pipe, not the child, failed

    def close(self) -> None:
        """Stop the child once it answered everything (call after the server drained)."""
        with self._lock:
            self._closed = True
            child = self._child
        if child is None:
            return
        with contextlib.suppress(OSError):
            # Bounded: a sender stuck on a hung child must not hold up the stop.
            child.send_bytes(pickle.dumps(None), timeout=_STOP_S)
        try:
            child.proc.wait(timeout=_STOP_S)
        except subprocess.TimeoutExpired:
            log.error("the metering writer process did not stop; killing it")
        child.end()
        with self._lock:
            if self._child is child:
                self._child = None

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.proc.pid if child is not None else None


def writer_for(
    config: NodeConfig, signer: Signer, ledger: Log | None = None
) -> MeteringWriter | None:
    """The metering writer a node with ``config``, region key ``signer`` and ``ledger``
    runs (not started), or None if it meters in its own threads (turned off, or a
    database only it can open). A measured ledger counts what the child appends."""
    if not config.limits.metering_process or is_memory_database(config.database_url):
        return None
    return MeteringWriter(
        WriterSpec(config.database_url, config.origin, config.region, signer.skey()),
        ledger.add_tally if isinstance(ledger, MeteredLog) else None,
    )


def _draining() -> UnavailableError:
    return UnavailableError("the node is shutting down", reason="NODE_DRAINING")


def _stopped() -> UnavailableError:
    return UnavailableError(
        "the metering writer stopped; retry with the same request id",
        reason="METERING_WRITER_STOPPED",
    )


def _fail(batch: list[_Slot], error: Callable[[], BaseException]) -> None:
    for slot in batch:  # one error object per caller: each raises it in its own thread
        slot.answer(error=error())


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
    """The child's loop: build the meter, say so, then commit until told to stop."""
    spec: WriterSpec = conn.recv()
    try:
        engine = make_engine(spec.database_url, pool_size=2)
        signer = Signer.from_skey(spec.skey)
        # Appends only: no checkpoint is verified here, so no retired keys are needed.
        ledger = _TallyingLog(engine, signer, spec.origin)
        reads = reading_engine(engine)
        # The node's meter is a RelayMeter (usage records of relayed calls name the
        # consumer's region): the child must write the same records.
        meter = RelayMeter(
            engine,
            ledger,
            signer,
            spec.region,
            rater=TariffRater(reads, spec.region),
            reads=reads,
        )
        directory = SqlLicenceDirectory(reads, spec.region)
    except Exception as exc:
        log.exception("metering writer: could not build the meter")
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    conn.send(_READY)
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
                try:
                    more = conn.recv()
                except EOFError:
                    more = None
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
            try:
                conn.send((replies, ledger.take_tally()))
            except OSError:  # the server went away: its callers cannot be answered
                break
    finally:
        meter.close()
        ledger.close()
        if reads is not engine:
            reads.dispose()
        engine.dispose()


def main() -> None:
    # The server owns this process: it runs in its own session, and ignores the
    # signals an operator sends the server too; the server closes the pipe when it
    # is done (or by dying), which is what ends this loop.
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
