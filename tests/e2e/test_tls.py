"""SMPP over TLS on a second port, with a real TLS client."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smsgw.client import SmppClient, SmppClientError
from tests.e2e.conftest import DEMO

pytestmark = pytest.mark.e2e


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsgw test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_an_esme_binds_submits_and_gets_its_receipt_over_tls(start_server, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = start_server(f'[smpp]\ntls_port = 0\ntls_certificate = "{cert}"\ntls_key = "{key}"\n')
    port = server.ports["smpp_tls"]
    assert server.get("/api/health")["smpp"]["tls_port"] == port
    context = ssl.create_default_context(cafile=str(cert))  # verifies the certificate and 127.0.0.1
    client = SmppClient("127.0.0.1", port, tls=context)
    try:
        client.bind("smsgw", "smsgw", receive=True)
        (message_id,) = client.submit("12345", DEMO[0], "over TLS", receipt=True)
        (receipt,) = client.wait_receipts([message_id], timeout=10)
        assert "stat:DELIVRD" in receipt.text
    finally:
        client.close()
    # The plain port still speaks plain SMPP.
    plain = SmppClient("127.0.0.1", server.ports["smpp"])
    plain.bind("smsgw", "smsgw")
    plain.close()


def test_a_client_that_does_not_speak_tls_is_dropped_and_the_carrier_carries_on(
    start_server, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = start_server(f'[smpp]\ntls_port = 0\ntls_certificate = "{cert}"\ntls_key = "{key}"\n')
    with socket.create_connection(("127.0.0.1", server.ports["smpp_tls"]), timeout=5) as raw:
        raw.sendall(
            b"\x00\x00\x00\x10\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x01"
        )  # enquire_link, no TLS
        raw.settimeout(5)
        # TLS may answer with an alert first; then the carrier closes the connection.
        while chunk := raw.recv(100):
            assert not chunk.startswith(b"\x00\x00\x00"), "answered in plain SMPP on the TLS port"
    with pytest.raises(SmppClientError, match="TLS with"):
        SmppClient("127.0.0.1", server.ports["smpp_tls"], tls=ssl.create_default_context())  # an unknown CA
    client = SmppClient(
        "127.0.0.1", server.ports["smpp_tls"], tls=ssl.create_default_context(cafile=str(cert))
    )
    client.bind("smsgw", "smsgw")
    client.close()


def test_a_missing_certificate_is_named_at_start(tmp_path: Path) -> None:
    config = tmp_path / "smsgw.toml"
    config.write_text('[smpp]\ntls_certificate = "/nonexistent/cert.pem"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "smsgw", "serve", "--config", str(config), "--db", ":memory:"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert "smpp.tls_certificate: cannot read '/nonexistent/cert.pem'" in result.stderr
