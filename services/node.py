"""The composition root: the one place that wires a regional node together.

From a :class:`~services.config.NodeConfig` it builds the database engine, loads the
region key, opens the ledger, builds the federation (peer channels, peer
authentication, outbox deliverer and witness, whose threads start and stop with the
node), creates the servicers and the interceptor, registers health checking (per
service) and reflection, and binds the port::

    node = build_node(load_config("/var/bashu/sc/node.toml"))
    node.start()
    print(node.port)
    ...
    node.stop()             # drains in-flight calls, then closes the ledger

:func:`serve` is the ``serve(config) -> (server, port)`` shape the gRPC examples use;
:func:`run_forever` is what ``bashu node serve`` runs: it blocks until SIGTERM or
SIGINT, then drains.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from ledger.log import Log
from ledger.note import Signer
from services import auth, registry
from services.config import NodeConfig
from services.db import make_engine, readonly
from services.errors import ConfigError
from services.federation import Federation, build_federation
from services.interceptors import NodeInterceptor
from services.keys import known_verifiers, load_region_key
from services.migrate import current_revision, head_revision
from services.outbox import MessageHandlers
from services.permissions import METHOD_ROLES, PEER_METHODS
from services.telemetry import MeteredLog, Telemetry, setup_telemetry

__all__ = ["Node", "build_node", "run_forever", "serve"]

log = logging.getLogger(__name__)


@dataclass
class Node:
    """A built (and possibly running) regional node and everything it owns."""

    config: NodeConfig
    engine: Engine
    signer: Signer
    ledger: Log
    server: grpc.Server
    port: int
    health: health.HealthServicer
    telemetry: Telemetry
    service_names: list[str] = field(default_factory=list)
    # Peers, outbox/inbox, witness: background threads started and stopped here.
    federation: Federation | None = None
    # Other background loops of the services (the settlement scheduler).
    background: list[Any] = field(default_factory=list)
    # Child processes (the metering writer): started at first use or by prewarm(),
    # closed after the server drained, since in-flight calls still need them.
    processes: list[registry.ChildProcess] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        host = self.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    def start(self) -> None:
        self.server.start()
        self.ledger.start_checkpointing(self.config.checkpoint_interval_s)
        if self.federation is not None:
            self.federation.start()
        for loop in self.background:
            loop.start()
        for name in [*self.service_names, ""]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def prewarm(self) -> None:
        """Start the child processes now rather than at their first use (the metering
        writer at the first lookup or verify, which would otherwise wait ≈1 s for
        it). ``bashu node serve`` does; a node that serves no such call never needs
        them (most tests)."""
        for process in self.processes:
            process.start()

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace``, then close."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        # Tell load balancers first so they stop routing here while we drain.
        self.health.enter_graceful_shutdown()
        # The deliverer and the witness finish their current round (bounded by the
        # peer call deadline) before the ledger and the database go away.
        for loop in self.background:
            loop.stop()
        if self.federation is not None:
            self.federation.stop()
        grace = self.config.limits.drain_grace_s if grace is None else grace
        self.server.stop(grace).wait()
        for process in self.processes:
            process.close()
        self.ledger.close()
        self.engine.dispose()
        self.telemetry.shutdown()


def _check_schema(engine: Engine) -> None:
    have, want = current_revision(engine), head_revision()
    if have != want:
        raise ConfigError(
            "database",
            f"schema is at {have or 'nothing'}, this release needs {want}: "
            "run 'bashu node migrate --config …' first",
        )


def _server_credentials(config: NodeConfig) -> grpc.ServerCredentials | None:
    if config.tls is None:
        return None
    try:
        key = config.tls.key_file.read_bytes()
        cert = config.tls.cert_file.read_bytes()
        ca = config.tls.client_ca_file.read_bytes() if config.tls.client_ca_file else None
    except OSError as exc:
        raise ConfigError("tls", str(exc)) from None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def build_node(
    config: NodeConfig,
    *,
    telemetry: Telemetry | None = None,
    ledger_factory: Callable[[Engine, Signer, str, Path], Log] | None = None,
    message_handlers: MessageHandlers | None = None,
) -> Node:
    """Build everything a node needs and bind its port (the server is not started).

    ``message_handlers`` replaces the default handlers of peer messages (tests).
    """
    telemetry = telemetry or setup_telemetry(config.region)
    engine = make_engine(config.database_url, pool_size=config.limits.max_workers + 8)
    _check_schema(engine)
    signer = load_region_key(config.key_file)
    if signer.name != config.origin:
        raise ConfigError("key_file", f"key is named {signer.name!r}, expected {config.origin!r}")
    if ledger_factory is None:
        ledger = _default_ledger(engine, signer, config.origin, config.key_file, telemetry)
    else:
        ledger = ledger_factory(engine, signer, config.origin, config.key_file)
        # The metering writer process builds the default ledger: a node given another
        # one (tests that make the ledger fail) meters in its own threads.
        config = dataclasses.replace(
            config, limits=dataclasses.replace(config.limits, metering_process=False)
        )

    auth_engine = readonly(engine)

    def authenticate(token: str) -> auth.Principal:
        # A read: it must not queue behind the ledger's and metering's group commits.
        with auth_engine.connect() as conn:
            return auth.authenticate(conn, token)

    federation = build_federation(
        config, engine, signer, ledger, meter=telemetry.meter, handlers=message_handlers
    )
    interceptor = NodeInterceptor(
        authenticate,
        METHOD_ROLES,
        telemetry.tracer,
        peer_authenticator=federation.authenticator,
        peer_methods=PEER_METHODS,
    )
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", config.limits.max_message_bytes),
        ("grpc.max_send_message_length", config.limits.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=config.limits.max_workers, thread_name_prefix=f"rpc-{config.region}"
        ),
        # Outermost first: the metrics see the status the node interceptor ends with.
        interceptors=[telemetry.rpc_interceptor(), interceptor],
        options=options,
    )
    ctx = registry.NodeContext(
        config=config, engine=engine, signer=signer, ledger=ledger, federation=federation
    )
    service_names = registry.register_services(server, ctx)

    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=2),
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in [*service_names, ""]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        [
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )

    creds = _server_credentials(config)
    if creds is None:
        port = server.add_insecure_port(config.listen)
    else:
        port = server.add_secure_port(config.listen, creds)
    if port == 0:
        raise ConfigError("listen", f"could not bind {config.listen}")
    return Node(
        config=config,
        engine=engine,
        signer=signer,
        ledger=ledger,
        server=server,
        port=port,
        health=health_servicer,
        telemetry=telemetry,
        service_names=service_names,
        federation=federation,
        background=ctx.background,
        processes=ctx.processes,
    )


def _default_ledger(
    engine: Engine, signer: Signer, origin: str, key_file: Path, telemetry: Telemetry
) -> Log:
    retired = known_verifiers(engine, key_file)[1:]
    return MeteredLog(engine, signer, origin, previous_verifiers=retired, telemetry=telemetry)


def serve(config: NodeConfig, *, telemetry: Telemetry | None = None) -> tuple[Node, int]:
    """Build and start a node; return it and the port it listens on."""
    node = build_node(config, telemetry=telemetry)
    node.start()
    return node, node.port


def run_forever(
    config: NodeConfig,
    *,
    telemetry: Telemetry | None = None,
    on_ready: Callable[[Node], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then drain in-flight calls and exit cleanly."""
    node, _ = serve(config, telemetry=telemetry)
    node.prewarm()
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: draining", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if on_ready is not None:
        on_ready(node)
    stop.wait()
    node.stop()
