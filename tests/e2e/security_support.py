"""Helpers of the security end-to-end suites: certificates made at test time
(never committed), token files, JWTs, TLS/bearer gRPC channels, and the
error of a service that must refuse to start."""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.testing.services import RunningService


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def _write_cert(cert, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class Pki:
    """A CA plus certificates it signs, written under `folder`."""

    def __init__(self, folder: Path, name: str = "test-ca"):
        import ipaddress
        self._ipaddress = ipaddress
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = folder / f"{name}.pem"
        _write_cert(self.cert, self.ca_file)

    def issue(self, name: str, server: bool = True) -> tuple[Path, Path]:
        """(cert_file, key_file) of a leaf for 127.0.0.1/localhost."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = x509.ExtendedKeyUsageOID.SERVER_AUTH if server else \
            x509.ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (x509.CertificateBuilder()
                .subject_name(_name(name)).issuer_name(self.cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(self._ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.ExtendedKeyUsage([usage]), False)
                .sign(self.key, hashes.SHA256()))
        cert_file, key_file = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        _write_cert(cert, cert_file)
        _write_key(key, key_file)
        return cert_file, key_file


def write_token_file(path: Path, principals: list[dict]) -> Path:
    path.write_text(json.dumps({"principals": principals}))
    return path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(secret: bytes, claims: dict) -> str:
    signing = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}." \
              f"{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


def rsa_key_pair(folder: Path) -> tuple[object, Path]:
    """(private key object, public PEM file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = folder / "jwt-public.pem"
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, public


def jwt_rs256(key, claims: dict) -> str:
    signing = f"{_b64(json.dumps({'alg': 'RS256', 'typ': 'JWT'}).encode())}." \
              f"{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing}.{_b64(signature)}"


def claims(sub: str, tenants: list[str], rights: list[str], lifetime: int = 300,
           **extra) -> dict:
    now = int(time.time())
    return {"sub": sub, "tenants": tenants, "rights": rights, "iat": now,
            "exp": now + lifetime, **extra}


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def tls_channel(port: int, ca_file: Path, client: tuple[Path, Path] | None = None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(ca_file).read_bytes(),
        private_key=Path(client[1]).read_bytes() if client else None,
        certificate_chain=Path(client[0]).read_bytes() if client else None)
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials,
                               options=[("grpc.ssl_target_name_override", "localhost")])


def start_error(name: str, *args: str) -> str:
    """What `name` started with `args` says when it refuses to start (it must)."""
    with pytest.raises(RuntimeError) as failed:
        with RunningService(name, *args):
            pass
    return str(failed.value)
