"""The ports gRPC authentication cannot cover, end to end: the admin port's
optional bearer token (kubelet probes stay open) on both services, and the
source-network allow-list of the receiver's line listeners (Spark's
socketTextStream cannot send a token)."""
from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request

import pytest

from tests.e2e.receiver_support import LineReader, send, wait_for
from tests.e2e.security_support import start_error
from tests.testing.services import RunningService

TOKEN = "admin-bearer-3f9a0d2c"


def admin_status(port, path, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("name, env_prefix", [("ngsi-receiver", "NGSI_RECEIVER_"),
                                              ("ngsi-replier", "NGSI_REPLIER_")])
def test_admin_token_guards_all_but_the_probes(tmp_path, name, env_prefix):
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    # Through the environment twin, as a Kubernetes Secret would be mounted.
    with RunningService(name, env={f"{env_prefix}ADMIN_TOKEN_FILE": str(token_file)}) as service:
        port = service.ports["admin_port"]
        assert admin_status(port, "/healthz") == 200
        assert admin_status(port, "/readyz") == 200
        assert admin_status(port, "/metrics") == 401
        assert admin_status(port, "/metrics", "not-the-token") == 401
        assert admin_status(port, "/metrics", TOKEN) == 200
        if name == "ngsi-receiver":
            assert admin_status(port, "/subscriptions") == 401
            assert admin_status(port, "/subscriptions", TOKEN) == 200

        token_file.write_text("rotated-admin-token\n")
        service.process.send_signal(signal.SIGHUP)
        wait_for(lambda: admin_status(port, "/metrics", "rotated-admin-token") == 200)
        assert admin_status(port, "/metrics", TOKEN) == 401
    logs = service.stderr_text()
    assert TOKEN not in logs and "rotated-admin-token" not in logs


def post_event(service, entity_id):
    body = json.dumps({"subscriptionId": "s1", "data": [{"id": entity_id, "type": "Room"}]})
    status, _, _ = send(service.ports["http_port"], "POST", "/notify",
                        {"Content-Type": "application/json"}, body.encode())
    assert status == 204


def metric_text(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        return r.read().decode()


def test_line_clients_outside_the_allowed_networks_are_closed():
    with RunningService("ngsi-receiver", "--line_allow_cidrs=10.0.0.0/8, 192.168.0.0/16") as service:
        s = socket.create_connection(("127.0.0.1", service.ports["line_port"]), timeout=20)
        try:
            assert s.recv(1) == b""  # closed at once, nothing sent
        finally:
            s.close()
        assert "ngsi_receiver_line_connections_refused_total 1" in metric_text(
            service.ports["admin_port"])
        post_event(service, "Hidden1")
    refusals = [line for line in service.stderr_lines() if "line clients refused" in line]
    assert len(refusals) == 1


def test_line_clients_inside_the_allowed_networks_get_lines():
    with RunningService("ngsi-receiver", "--line_allow_cidrs=127.0.0.0/8") as service:
        lines = LineReader(service.ports["line_port"])
        try:
            wait_for(lambda: 'ngsi_receiver_consumers{kind="line"} 1' in metric_text(
                service.ports["admin_port"]))
            post_event(service, "Visible1")
            assert "Visible1" in lines.read_line()
        finally:
            lines.close()


def test_bad_line_network_fails_the_start():
    assert "line_allow_cidrs" in start_error("ngsi-receiver", "--line_allow_cidrs=10.0.0.0/40")
