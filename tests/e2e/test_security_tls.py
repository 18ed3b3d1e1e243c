"""TLS end to end: gRPC over TLS and mTLS (a wrong client certificate is
refused), HTTPS notifications, certificate rotation on SIGHUP while a stream
stays open, and HTTPS to a broker with verification."""
from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import ssl

import grpc
import pytest
from cryptography import x509

from tests.e2e.broker_stub import BrokerStub
from tests.e2e.receiver_support import metric, wait_for
from tests.e2e.security_support import Pki, tls_channel
from tests.testing.services import RunningService

V2 = {"Content-Type": "application/json", "Fiware-Service": "smartcity",
      "Fiware-ServicePath": "/"}


def body(entity_id):
    return json.dumps({"subscriptionId": "s1", "data": [
        {"id": entity_id, "type": "Room",
         "temperature": {"type": "Number", "value": 1, "metadata": {}}}]}).encode()


def https_post(port, ca_file, entity_id):
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("POST", "/notify", body(entity_id), V2)
        response = connection.getresponse()
        response.read()
        serial = x509.load_der_x509_certificate(
            connection.sock.getpeercert(binary_form=True)).serial_number
        return response.status, serial
    finally:
        connection.close()


def grpc_peer_serial(port, ca_file):
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def serial_of(cert_file):
    return x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


def test_grpc_mtls_accepts_only_certificates_of_the_client_ca(ngsi_stubs, pki, tmp_path):
    cert, key = pki.issue("receiver")
    client = pki.issue("spark", server=False)
    rogue = Pki(tmp_path / "rogue", "rogue-ca").issue("intruder", server=False)
    with RunningService("ngsi-receiver", f"--tls_cert={cert}", f"--tls_key={key}",
                        f"--tls_client_ca={pki.ca_file}") as service:
        port = service.ports["grpc_port"]
        info = ngsi_stubs.receiver_pb2.InfoRequest()
        channel = tls_channel(port, pki.ca_file, client)
        assert ngsi_stubs.receiver_pb2_grpc.EventStreamStub(channel).Info(
            info, timeout=10).version
        channel.close()
        for who in (rogue, None):
            channel = tls_channel(port, pki.ca_file, who)
            with pytest.raises(grpc.RpcError) as error:
                ngsi_stubs.receiver_pb2_grpc.EventStreamStub(channel).Info(info, timeout=5)
            channel.close()
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        # Plaintext against the TLS port fails too.
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        with pytest.raises(grpc.RpcError):
            ngsi_stubs.receiver_pb2_grpc.EventStreamStub(channel).Info(info, timeout=5)
        channel.close()
    assert "BEGIN" not in service.stderr_text()


def test_https_intake_and_rotation_on_sighup_keep_the_stream(ngsi_stubs, pki):
    first_cert, first_key = pki.issue("receiver-1")
    second_cert, second_key = pki.issue("receiver-2")
    live_cert, live_key = pki.folder / "live.crt", pki.folder / "live.key"
    shutil.copy(first_cert, live_cert)
    shutil.copy(first_key, live_key)
    with RunningService("ngsi-receiver", f"--tls_cert={live_cert}", f"--tls_key={live_key}",
                        "--http_tls", "--tls_refresh_seconds=1") as service:
        http_port, grpc_port = service.ports["http_port"], service.ports["grpc_port"]
        channel = tls_channel(grpc_port, pki.ca_file)
        # EARLIEST, not LATEST: the POST below may reach the log before the
        # server has positioned a LATEST stream, and that event would be skipped.
        stream = ngsi_stubs.receiver_pb2_grpc.EventStreamStub(channel).Subscribe(
            ngsi_stubs.receiver_pb2.SubscribeRequest(
                start=ngsi_stubs.receiver_pb2.SubscribeRequest.EARLIEST), timeout=60)
        assert https_post(http_port, pki.ca_file, "E1") == (204, serial_of(first_cert))
        assert next(stream).entities[0].id == "E1"
        assert grpc_peer_serial(grpc_port, pki.ca_file) == serial_of(first_cert)

        shutil.copy(second_cert, live_cert)
        shutil.copy(second_key, live_key)
        service.process.send_signal(signal.SIGHUP)
        wait_for(lambda: https_post(http_port, pki.ca_file, "probe")[1] ==
                 serial_of(second_cert))
        wait_for(lambda: grpc_peer_serial(grpc_port, pki.ca_file) == serial_of(second_cert))
        # The stream opened before the rotation is still delivering.
        assert https_post(http_port, pki.ca_file, "E2")[0] == 204
        ids = []
        while "E2" not in ids:
            ids.append(next(stream).entities[0].id)
        assert ids[0] == "probe" or ids[0] == "E2"
        stream.cancel()
        channel.close()
        # Plain HTTP on the HTTPS port gets no event in.
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            connection.request("POST", "/notify", body("plain"), V2)
            connection.getresponse().read()
        connection.close()


def test_https_connection_over_the_cap_is_closed_without_a_handshake(pki):
    """Over HTTPS a connection over --http_max_connections_per_source is
    closed before any TLS byte (refusing costs no handshake); once the held
    connection goes, HTTPS notifications are served again."""
    cert, key = pki.issue("receiver")
    with RunningService("ngsi-receiver", f"--tls_cert={cert}", f"--tls_key={key}", "--http_tls",
                        "--http_max_connections_per_source=1") as service:
        port, admin = service.ports["http_port"], service.ports["admin_port"]
        held = socket.create_connection(("127.0.0.1", port))
        wait_for(lambda: metric(admin, "ngsi_receiver_http_connections_open") == 1)
        with socket.create_connection(("127.0.0.1", port), timeout=20) as refused:
            assert refused.recv(1) == b""
        assert metric(admin, 'ngsi_receiver_http_connections_refused_total{reason="source"}') == 1
        held.close()
        wait_for(lambda: metric(admin, "ngsi_receiver_http_connections_open") == 0)
        status, _ = https_post(port, pki.ca_file, "AfterTheCap")
        assert status == 204


def write(stubs, port):
    pb = stubs.replier_pb2
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        return stubs.replier_pb2_grpc.ReplierStub(channel).Write(
            pb.WriteRequest(broker="orion", operation=pb.OPERATION_UPSERT,
                            entities=[stubs.ngsi_pb2.Entity(id="E1", type="T")]),
            timeout=20)
    finally:
        channel.close()


def test_https_broker_is_verified(ngsi_stubs, pki, tmp_path):
    broker_cert = pki.issue("broker")
    with BrokerStub(cert=broker_cert) as broker:
        # Trusted CA: written.
        with RunningService("ngsi-replier", f"--broker=orion={broker.url},ca_file={pki.ca_file}",
                            "--retry_max_attempts=1") as replier:
            assert write(ngsi_stubs, replier.ports["grpc_port"]).succeeded == 1
        assert len(broker.requests) == 1
        # Another CA: the handshake fails, nothing is written.
        other_ca = Pki(tmp_path / "other", "other-ca").ca_file
        with RunningService("ngsi-replier", f"--broker=orion={broker.url},ca_file={other_ca}",
                            "--retry_max_attempts=1") as replier:
            try:
                assert write(ngsi_stubs, replier.ports["grpc_port"]).succeeded == 0
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert len(broker.requests) == 1
        # insecure=true (labs): written without verification.
        with RunningService("ngsi-replier", f"--broker=orion={broker.url},insecure=true",
                            "--retry_max_attempts=1") as replier:
            assert write(ngsi_stubs, replier.ports["grpc_port"]).succeeded == 1
        assert len(broker.requests) == 2


def test_oauth2_client_credentials_cached_and_refreshed_once_on_401(ngsi_stubs, tmp_path):
    secret = "keyrock-client-secret-5e8f"
    secret_file = tmp_path / "client.secret"
    secret_file.write_text(secret + "\n")
    with BrokerStub(client_id="ngsi-replier", client_secret=secret) as broker:
        with RunningService(
                "ngsi-replier",
                f"--broker=orion={broker.url},token_url={broker.url}/oauth2/token,"
                f"client_id=ngsi-replier,client_secret_file={secret_file}") as replier:
            port = replier.ports["grpc_port"]
            assert write(ngsi_stubs, port).succeeded == 1
            assert write(ngsi_stubs, port).succeeded == 1
            assert broker.issued == 1  # cached
            broker.revoke_all()
            assert write(ngsi_stubs, port).succeeded == 1
            assert broker.issued == 2  # one refresh after the 401
            assert [r["headers"]["x-auth-token"] for r in broker.requests] == \
                ["access-1", "access-1", "access-1", "access-2"]
        # client_secret= on the command line is redacted wherever it shows.
        with pytest.raises(RuntimeError) as failed:
            with RunningService("ngsi-replier",
                                f"--broker=orion={broker.url},client_secret={secret},"
                                "token_url=ftp://nowhere"):
                pass
        assert secret not in str(failed.value)
    log = replier.stderr_text()
    assert secret not in log and "access-1" not in log and "access-2" not in log
