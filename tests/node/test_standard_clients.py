"""Clients written by others, and TLS: what an outside integrator would try first."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import clients
from clients.sdk.channel import TlsOptions
from services.config import TlsConfig
from services.node import build_node
from tests.node.conftest import RunningNode, make_node_config, register_role_parties

REPO = Path(__file__).resolve().parents[2]
BUF = REPO / "node_modules" / ".bin" / "buf"


@pytest.mark.skipif(not BUF.exists(), reason="buf is not installed (npm ci)")
def test_buf_curl_through_reflection(running_node: RunningNode) -> None:
    """buf knows nothing of our protos: it learns them from server reflection."""
    res = subprocess.run(
        [
            str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
            "--header", f"authorization: Bearer {running_node.keys['operator']}",
            "--data", "{}",
            f"http://{running_node.address}/bashu.ledger.v1.LedgerService/GetPublicKey",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["verifierKey"] == running_node.node.signer.vkey()
    # And a refusal reaches it as a standard gRPC error.
    res = subprocess.run(
        [
            str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--data", "{}",
            f"http://{running_node.address}/bashu.ledger.v1.LedgerService/GetPublicKey",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode != 0
    assert "unauthenticated" in res.stderr.lower()


def _make_cert(tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "server.key", tmp / "server.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_listener_and_sdk(tmp_path: Path, db_url: str) -> None:
    key, cert = _make_cert(tmp_path)
    config = make_node_config(tmp_path / "sc", "sc", db_url)
    config = replace(config, tls=TlsConfig(cert_file=cert, key_file=key))
    keys, _, _ = register_role_parties(db_url)
    node = build_node(config)
    node.start()
    try:
        tls = TlsOptions(ca_file=cert)
        with clients.connect(node.address, keys["consumer"], tls=tls) as client:
            assert client.ledger.public_key() == node.signer.vkey()
        # A plaintext client cannot talk to a TLS listener.
        with grpc.insecure_channel(node.address) as channel:
            with pytest.raises(grpc.RpcError) as err:
                health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=3
                )
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        node.stop(grace=1.0)
