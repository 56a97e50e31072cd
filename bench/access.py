"""Access benchmark: metered keyed lookups and bulk reads against bare gRPC baselines.

Run from the repository root::

    .venv/bin/python bench/access.py --quick      # < 1 minute
    .venv/bin/python bench/access.py              # longer runs, same measurements
    .venv/bin/python bench/access.py --quick --pin  # the node on one CPU, clients on the rest

It prints a ``rich`` table and, as its LAST line, one JSON object with at least
``lookup_ratio`` and ``bulk_ratio``.

What is compared, side by side in one run, on ONE server:

The node is built exactly as ``bashu node serve`` builds it (SQLite WAL with
``synchronous=FULL``, the node's interceptor with API-key authentication, the same
thread pool and message limits, and its metering writer process, which commits the
lookups' usage: see docs/access.md), and two bare methods are added to that same
server before it starts: ``bench.Echo/Echo`` (returns its request) and
``bench.Echo/Stream`` (streams pre-serialized ``ReadDataResponse`` frames holding
the very Arrow IPC batches a metered read of the same table produces). So the
baselines pay for the same server, the same authentication and the same transport;
the difference is the data plane: licence check, quota reservation, masking,
metering, the durable (group-committed) ledger append, and the signed receipt.

* lookups/s: 64 concurrent callers (asyncio gRPC in a separate client process)
  doing ``LookupRecord`` with a fresh request_id each (every call is metered and
  appended to the ledger before it answers), against 64 callers of ``Echo`` with a
  payload of the same size as a lookup response. The two alternate (five pairs of
  runs) and ``lookup_ratio`` is the median of the pairs' metered / echo ratios (the
  table shows their range too).
  ``echo_raw_per_s`` is also reported: the same echo on a server WITHOUT the node's
  interceptor, i.e. what authentication itself costs.
* bulk MB/s: ``ReadData`` of a Parquet-backed product (masked fields included)
  against ``Stream`` of the same bytes, in the same number of frames; the client
  reads every frame in both cases. They alternate likewise, and ``bulk_ratio`` is the
  median of the pairs' metered / bare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent import futures
from pathlib import Path
from typing import Any, cast

# Run as a script, this file's directory is sys.path[0]: put the repository root first.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

CONCURRENCY = 64
PAIRS = 5  # echo/lookup measurements alternated; the ratio is their median


# --- the client process ---------------------------------------------------------------------


def client_main(spec: dict[str, Any]) -> None:
    if spec.get("cpus"):
        os.sched_setaffinity(0, spec["cpus"])
    import grpc
    import grpc.aio

    md = (("authorization", f"Bearer {spec['key']}"),)

    async def lookups(channel: grpc.aio.Channel) -> float:
        from bashu.access.v1 import access_pb2

        call = channel.unary_unary("/bashu.access.v1.AccessService/LookupRecord", None, None)
        keys = spec["keys"]
        run = uuid.uuid4().hex[:8]
        counter = 0

        def request() -> bytes:
            nonlocal counter
            counter += 1
            return access_pb2.LookupRecordRequest(
                licence=spec["licence"],
                key={"id_no": keys[counter % len(keys)]},
                request_id=f"{run}-{counter}",
            ).SerializeToString()

        return await _drive(call, request, md, spec["seconds"])

    async def echo(channel: grpc.aio.Channel) -> float:
        call = channel.unary_unary("/bench.Echo/Echo", None, None)
        payload = b"x" * spec["payload"]
        return await _drive(call, lambda: payload, md, spec["seconds"])

    async def stream(channel: grpc.aio.Channel, method: str, request: Any) -> float:
        call = channel.unary_stream(method, None, None)
        async for _ in call(request(), metadata=md):  # warm up
            pass
        total = 0
        start = time.perf_counter()
        for _ in range(spec["rounds"]):
            async for frame in call(request(), metadata=md):
                total += len(frame)
        return total / (time.perf_counter() - start) / 1e6

    async def main() -> float:
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        async with grpc.aio.insecure_channel(spec["address"], options=options) as channel:
            mode = spec["mode"]
            if mode == "lookup":
                return await lookups(channel)
            if mode == "echo":
                return await echo(channel)
            if mode == "read":
                from bashu.access.v1 import access_pb2

                def read_request() -> bytes:
                    # A new request_id per call: a retry of the same id would replay.
                    return access_pb2.ReadDataRequest(
                        licence=spec["licence"], request_id=uuid.uuid4().hex
                    ).SerializeToString()

                return await stream(
                    channel, "/bashu.access.v1.AccessService/ReadData", read_request
                )
            return await stream(channel, "/bench.Echo/Stream", lambda: b"")

    print(json.dumps({"rate": asyncio.run(main())}))


async def _drive(call: Any, make: Any, md: Any, seconds: float) -> float:
    for _ in range(20):  # warm up
        await call(make(), metadata=md)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(make(), metadata=md)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
    return done / (time.perf_counter() - start)


# --pin: the CPUs the client processes run on (the server keeps the first one).
_CLIENT_CPUS: list[int] = []


def run_client(spec: dict[str, Any]) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--client"],
        input=json.dumps({**spec, "cpus": _CLIENT_CPUS}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
    return float(json.loads(lines[-1])["rate"])


def paired(
    console: Any, what: str, baseline: dict[str, Any], metered: dict[str, Any]
) -> tuple[list[float], float, float]:
    """Run ``baseline`` then ``metered`` clients, PAIRS times alternately: a machine
    whose speed drifts (a shared one does) then moves both sides of a pair alike
    instead of whichever phase happened to run slower. Returns the pairs' metered /
    baseline ratios (sorted) and the median rate of each side."""
    pairs: list[tuple[float, float]] = []
    for n in range(PAIRS):
        console.print(f"[dim]{what}, pair {n + 1} of {PAIRS} …[/]")
        base = run_client(baseline)
        pairs.append((base, run_client(metered)))
    return (
        sorted(m / b for b, m in pairs),
        statistics.median(b for b, _ in pairs),
        statistics.median(m for _, m in pairs),
    )


# --- the server side ---------------------------------------------------------------------------


def people(n: int) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    i = pa.array(range(n), pa.int64())
    digits = pc.utf8_lpad(pc.cast(i, pa.string()), 12, "0")
    return pa.table(
        {
            "id_no": pc.binary_join_element_wise("510105", digits, "X", ""),
            "name": pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(pc.cast(pc.add(i, 10_000_000), pa.string()), 5, 8),
                "明",
                "",
            ),
            "phone": pc.binary_join_element_wise(
                "138", pc.utf8_lpad(pc.cast(i, pa.string()), 8, "0"), ""
            ),
            "city": pc.if_else(pc.equal(pc.bit_wise_and(i, 1), 0), "成都", "重庆"),
            "score": pc.bit_wise_and(i, 127),
            "note": pc.binary_join_element_wise(
                "record ", pc.cast(i, pa.string()), " of the census", ""
            ),
        }
    )


def descriptor(provider: str) -> Any:
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    fields = [
        ("id_no", "STRING", "SENSITIVE_PERSONAL", "ID_NUMBER"),
        ("name", "STRING", "PERSONAL", "NAME"),
        ("phone", "STRING", "SENSITIVE_PERSONAL", "PHONE"),
        ("city", "STRING", "PUBLIC", "NONE"),
        ("score", "INT64", "INTERNAL", "NONE"),
        ("note", "STRING", "PUBLIC", "NONE"),
    ]
    return catalog_pb2.ProductDescriptor(
        title=common_pb2.LocalizedText(zh="人口基础信息"),
        description=common_pb2.LocalizedText(zh="基准测试数据"),
        provider=provider,
        region="sc",
        category=common_pb2.CATEGORY_NATURAL_PERSON,
        source_class=common_pb2.SOURCE_CLASS_GOVERNMENT,
        data_grade=common_pb2.DATA_GRADE_GENERAL,
        personal_info_class=common_pb2.PERSONAL_INFO_CLASS_SENSITIVE,
        fields=[
            catalog_pb2.FieldSpec(
                name=n,
                type=f"FIELD_TYPE_{t}",
                element_code=f"DE01.{k:03d}",
                sensitivity=f"FIELD_SENSITIVITY_{s}",
                description=common_pb2.LocalizedText(zh=n),
                default_masking=f"MASKING_RULE_{m}",
            )
            for k, (n, t, s, m) in enumerate(fields)
        ],
        key_fields=["id_no"],
        access_modes=[common_pb2.ACCESS_MODE_BULK, common_pb2.ACCESS_MODE_LOOKUP],
        allowed_purpose_classes=[common_pb2.PURPOSE_CLASS_COMMERCIAL],
        update_frequency=catalog_pb2.UPDATE_FREQUENCY_MONTHLY,
        standard_version="sc-de/2025.1",
    )


def bench(quick: bool) -> dict[str, Any]:
    import grpc
    import pyarrow.parquet as pq
    from bashu.access.v1 import access_pb2
    from rich.console import Console
    from rich.table import Table

    import clients
    from services import permissions
    from services.auth import Role
    from services.node import build_node
    from services.sources import encode_bounded
    from tests.node.conftest import make_node_config, register_role_parties

    console = Console(stderr=True)
    seconds = float(os.environ.get("BASHU_BENCH_SECONDS") or (4.0 if quick else 15.0))
    rows = 400_000 if quick else 2_000_000
    rounds = 10 if quick else 24
    work = Path(tempfile.mkdtemp(prefix="bashu-bench-"))
    db_url = os.environ.get("BASHU_BENCH_DATABASE_URL") or f"sqlite:///{work / 'node.db'}"
    console.print(f"[dim]setting up a node on {db_url.split(':')[0]} in {work}[/]")
    config = make_node_config(work / "sc", "sc", db_url)
    keys, _, party_ids = register_role_parties(db_url)
    table = people(rows)
    pq.write_table(table, work / "sc" / "people.parquet")

    # The two bare methods join the node's own server, behind the node's interceptor.
    consumer_only = frozenset({Role.CONSUMER})
    roles = cast(dict[str, frozenset[Role]], permissions.METHOD_ROLES)
    roles.update({"/bench.Echo/Echo": consumer_only, "/bench.Echo/Stream": consumer_only})
    node = build_node(config)
    frames: list[bytes] = []

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    def stream(request: bytes, context: grpc.ServicerContext) -> Any:
        yield from frames

    handlers = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
        },
    )
    node.server.add_generic_rpc_handlers([handlers])
    node.start()
    node.prewarm()  # as `bashu node serve` does: the metering writer process is up

    raw = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.limits.max_workers),
        options=[("grpc.so_reuseport", 0)],
    )
    raw.add_generic_rpc_handlers([handlers])
    raw_port = raw.add_insecure_port("127.0.0.1:0")
    raw.start()
    try:
        provider = clients.connect(node.address, keys["provider"], region="sc")
        consumer = clients.connect(node.address, keys["consumer"], region="sc")
        provider_name = f"regions/sc/parties/{party_ids['provider']}"
        created = provider.catalog.create_product(descriptor(provider_name), product_id="census")
        provider.catalog.create_tariff("census", unit="PER_ROW", unit_price="0.001")
        provider.access.register_source(str(created.revision.name), path="people.parquet")
        resp = consumer.licensing.request_licence(
            "census",
            purpose_class="COMMERCIAL",
            scenario_code="FIN-CREDIT-01",
            access_modes=["BULK", "LOOKUP"],
        )
        licence = (
            resp.licence.name or provider.licensing.approve(resp.licence_request.name).licence.name
        )
        sample = consumer.access.raw.LookupRecord(
            access_pb2.LookupRecordRequest(
                licence=licence, key={"id_no": table.column("id_no")[1].as_py()}, request_id="warm"
            )
        )
        payload = len(sample.SerializeToString())
        first = consumer.access.read_result(licence)
        # The bare stream sends the very bytes the metered read sends, framed alike.
        from services.masking import MaskingRule, mask_batch

        rules = {
            "id_no": MaskingRule.ID_NUMBER,
            "name": MaskingRule.NAME,
            "phone": MaskingRule.PHONE,
        }
        budget = config.limits.max_message_bytes - 64 * 1024
        for batch in table.to_batches(max_chunksize=65_536):
            for enc in encode_bounded(mask_batch(batch, rules), budget):
                frames.append(
                    access_pb2.ReadDataResponse(
                        record_batch=enc.ipc.to_pybytes()
                    ).SerializeToString()
                )
        bulk_bytes = sum(len(f) for f in frames)
        keys_sample = table.column("id_no").to_pylist()[:50_000:7]
        common = {"key": keys["consumer"], "seconds": seconds, "rounds": rounds}
        only = os.environ.get("BASHU_BENCH_ONLY", "")
        if only in ("lookup", "echo"):
            cpu, wall = time.process_time(), time.perf_counter()
            spec = {**common, "mode": only, "address": node.address, "licence": licence}
            rate = run_client({**spec, "keys": keys_sample, "payload": payload})
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            console.print(f"{only}/s {rate:.0f}  server cpu {cpu / wall:.2f} cores")
            return {}
        if only == "read":
            rate = run_client(
                {**common, "mode": "read", "address": node.address, "licence": licence}
            )
            console.print(f"read MB/s {rate:.0f}")
            return {}
        # Echo and lookups alternate, and so do bare stream and bulk read (see paired).
        echo_spec = {**common, "mode": "echo", "address": node.address, "payload": payload}
        lookup_spec = {
            **common,
            "mode": "lookup",
            "address": node.address,
            "licence": licence,
            "keys": keys_sample,
        }
        ratios, echo_rate, lookup_rate = paired(
            console,
            "echo and metered lookups",
            {**echo_spec, "seconds": seconds / 2},
            {**lookup_spec, "seconds": seconds / 2},
        )
        console.print("[dim]echo (bare server) …[/]")
        echo_raw = run_client(
            {**common, "mode": "echo", "address": f"127.0.0.1:{raw_port}", "payload": payload}
        )
        bulk_ratios, bare_mb, read_mb = paired(
            console,
            "bare stream and metered bulk read",
            {**common, "mode": "stream", "address": node.address},
            {**common, "mode": "read", "address": node.address, "licence": licence},
        )
        ledger_size = node.ledger.size()
        provider.close()
        consumer.close()
    finally:
        raw.stop(0)
        node.stop(grace=1.0)

    result = {
        "lookup_ratio": round(statistics.median(ratios), 3),
        "lookup_ratio_min": round(ratios[0], 3),
        "lookup_ratio_max": round(ratios[-1], 3),
        "bulk_ratio": round(statistics.median(bulk_ratios), 3),
        "bulk_ratio_min": round(bulk_ratios[0], 3),
        "bulk_ratio_max": round(bulk_ratios[-1], 3),
        "lookups_per_s": round(lookup_rate, 1),
        "echo_per_s": round(echo_rate, 1),
        "echo_raw_per_s": round(echo_raw, 1),
        "lookup_ratio_vs_raw_echo": round(lookup_rate / echo_raw, 3),
        "bulk_mb_per_s": round(read_mb, 1),
        "bare_stream_mb_per_s": round(bare_mb, 1),
        "lookup_payload_bytes": payload,
        "bulk_bytes_per_read": bulk_bytes,
        "bulk_rows": rows,
        "bulk_frames": len(frames),
        "first_read_rows": first.table.num_rows,
        "concurrency": CONCURRENCY,
        "database": db_url.split(":")[0],
        "ledger_entries": ledger_size,
    }
    view = Table(title="metered access vs bare gRPC (same server)")
    view.add_column("measure")
    view.add_column("metered", justify="right")
    view.add_column("baseline", justify="right")
    view.add_column("ratio", justify="right")
    view.add_row(
        f"keyed lookups/s ({CONCURRENCY} callers)",
        f"{lookup_rate:,.0f}",
        f"{echo_rate:,.0f} echo",
        f"{result['lookup_ratio']:.2f} ({result['lookup_ratio_min']:.2f}–"
        f"{result['lookup_ratio_max']:.2f})",
    )
    view.add_row(
        "  vs echo without the node's interceptor",
        "",
        f"{echo_raw:,.0f} echo",
        f"{result['lookup_ratio_vs_raw_echo']:.2f}",
    )
    view.add_row(
        f"bulk read MB/s ({bulk_bytes / 1e6:.0f} MB, {len(frames)} frames)",
        f"{read_mb:,.0f}",
        f"{bare_mb:,.0f} bare stream",
        f"{result['bulk_ratio']:.2f} ({result['bulk_ratio_min']:.2f}–"
        f"{result['bulk_ratio_max']:.2f})",
    )
    Console().print(view)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the server (the node) on one CPU and the client processes on the others",
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # the client process: its spec comes on stdin
        client_main(json.loads(sys.stdin.read()))
        return
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least two CPUs")
        # Before any thread starts: the node's threads inherit the main thread's CPU.
        os.sched_setaffinity(0, {cpus[0]})
        _CLIENT_CPUS.extend(cpus[1:])
    result = {**bench(args.quick), "pinned": args.pin}
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
