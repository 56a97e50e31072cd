"""A child process that appends to a log as hard as it can and reports every ack.

Used by the reliability tests (kill -9 in the middle of appending; several
processes appending to one PostgreSQL log)::

    python -m tests.ledger.appender URL SKEY PREFIX [--threads 4] [--count N]

Each acknowledged entry is written to stdout as ``<index> <key>\\n`` and flushed
AFTER ``append``/``append_many`` returned, i.e. after the entry is durable, so the
parent's list of acknowledged entries is a lower bound of what must survive a
SIGKILL. ``data_for(key)`` makes the bytes reproducible for the parent's checks.
Keys are ``PREFIX-<thread>-<n>``; with ``--shared K`` every thread also appends
the keys ``shared-0 .. shared-K-1`` (the same in every process), to exercise
idempotency across processes.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import threading
import time

from ledger.log import Log
from ledger.note import Signer
from services.db import make_engine


def data_for(key: str) -> bytes:
    """The entry bytes for ``key`` (about 200 bytes, deterministic)."""
    return hashlib.sha256(key.encode()).digest() * 6 + key.encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("skey")
    ap.add_argument("prefix")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--count", type=int, default=0, help="entries per thread; 0 = forever")
    ap.add_argument("--max-batch", type=int, default=40)
    ap.add_argument("--shared", type=int, default=0)
    ap.add_argument("--checkpoint-every", type=int, default=25)
    ap.add_argument("--start-at", type=float, default=0.0, help="epoch seconds to start at")
    args = ap.parse_args(argv)

    signer = Signer.from_skey(args.skey)
    engine = make_engine(args.url)
    log = Log(engine, signer, signer.name)
    # Sleep out the start time so that several processes really run concurrently.
    time.sleep(max(0.0, args.start_at - time.time()))
    out_lock = threading.Lock()
    failures: list[BaseException] = []

    def report(results: list[tuple[int, str]]) -> None:
        with out_lock:
            sys.stdout.write("".join(f"{i} {k}\n" for i, k in results))
            sys.stdout.flush()

    def worker(t: int) -> None:
        rng = random.Random(t)
        n = 0
        batches = 0
        shared = [f"shared-{i}" for i in range(args.shared)]
        try:
            while args.count == 0 or n < args.count:
                k = rng.randint(1, args.max_batch)
                if args.count:
                    k = min(k, args.count - n)
                keys = [f"{args.prefix}-{t}-{n + j}" for j in range(k)]
                if shared and rng.random() < 0.3:
                    keys.append(shared.pop(rng.randrange(len(shared))))
                if len(keys) == 1:
                    res = [log.append(data_for(keys[0]), keys[0])]
                else:
                    res = log.append_many([(data_for(key), key) for key in keys])
                report([(r.index, key) for r, key in zip(res, keys, strict=True)])
                n += k
                batches += 1
                if args.checkpoint_every and batches % args.checkpoint_every == 0:
                    log.checkpoint()
            for key in shared:
                r = log.append(data_for(key), key)
                report([(r.index, key)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    log.checkpoint()
    log.close()
    engine.dispose()
    if failures:
        print(f"appender failed: {failures[0]!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
