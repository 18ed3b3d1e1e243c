"""The notification endpoint's own guards, end to end: a shared-secret
header (never passed on to events, lines or logs) and an allow-list of
source networks; and what a slow-loris does to the HTTP worker pool."""
from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from tests.e2e.receiver_support import LineReader, metric, send, wait_for
from tests.e2e.security_support import start_error
from tests.testing.services import RunningService

SECRET = "orion-shared-secret-0c4b71"


def body(entity_id):
    return json.dumps({"subscriptionId": "s1", "data": [
        {"id": entity_id, "type": "Room",
         "temperature": {"type": "Number", "value": 1, "metadata": {}}}]}).encode()


def post(service, headers, entity_id="E1"):
    status, _, data = send(service.ports["http_port"], "POST", "/notify",
                           {"Content-Type": "application/json", **headers}, body(entity_id))
    return status, data


def test_secret_header_checked_and_never_passed_on(tmp_path):
    secret_file = tmp_path / "notify.secret"
    secret_file.write_text(SECRET + "\n")
    with RunningService("ngsi-receiver", "--notify_secret_header=X-Notify-Secret",
                        f"--notify_secret_file={secret_file}", "--line_format=fpc") as service:
        lines = LineReader(service.ports["line_port"])
        wait_for(lambda: metric(service.ports["admin_port"],
                                'ngsi_receiver_consumers{kind="line"}') == 1)
        try:
            assert post(service, {})[0] == 401
            assert post(service, {"X-Notify-Secret": "wrong"})[0] == 401
            assert post(service, {"X-Notify-Secret": SECRET[:-1]})[0] == 401
            status, data = post(service, {"x-notify-secret": SECRET}, "OK1")
            assert status == 204
            line = lines.read_line()
            assert "OK1" in line and SECRET not in line
            assert "x-notify-secret" not in line.lower()
        finally:
            lines.close()
    assert SECRET not in service.stderr_text()


@pytest.mark.parametrize("cidrs, allowed", [
    ("10.0.0.0/8,192.168.0.0/16", False),
    ("10.0.0.0/8, 127.0.0.0/8", True),
    ("127.0.0.1", True),
])
def test_source_networks(cidrs, allowed):
    with RunningService("ngsi-receiver", f"--notify_allow_cidrs={cidrs}") as service:
        status, data = post(service, {})
        assert status == (204 if allowed else 403), data


def test_bad_cidr_fails_the_start():
    with pytest.raises(RuntimeError) as failed:
        with RunningService("ngsi-receiver", "--notify_allow_cidrs=10.0.0.0/33"):
            pass
    assert "10.0.0.0/33" in str(failed.value)


def slow_loris(port, count):
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /notify HTTP/1.1\r\nHost: x\r\n")  # and never more
        sockets.append(s)
    return sockets


def timed_post(service):
    started = time.monotonic()
    status, _ = post(service, {})
    return status, time.monotonic() - started


def test_slow_loris_cannot_stall_the_event_loop():
    """The default engine: trickling connections cost a buffer each, not a
    thread, so a hundred of them leave notifications answered at once."""
    with RunningService("ngsi-receiver", "--http_engine=event-loop",
                        "--http_loops=1") as service:
        port = service.ports["http_port"]
        slow = slow_loris(port, 100)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/notify", body("prompt"),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()  # raises if starved past 10 s
        response.read()
        connection.close()
        assert response.status == 204
        for s in slow:
            s.close()


def test_slow_loris_cannot_starve_the_workers():
    """--http_engine=httplib: more trickling connections than --http_threads:
    the pool grows (up to --http_max_connections), so a notification is
    still answered at once."""
    with RunningService("ngsi-receiver", "--http_engine=httplib", "--http_threads=2",
                        "--http_max_connections=16") as service:
        slow = slow_loris(service.ports["http_port"], 6)
        status, waited = timed_post(service)
        assert status == 204
        assert waited < 3, waited
        for s in slow:
            s.close()


def test_fixed_pool_is_starved_until_the_read_timeout():
    """The measurement behind --http_max_connections (--http_engine=httplib):
    with a fixed pool (0) two stalled connections hold a notification ~40 s
    (httplib drops them only after its keep-alive and read timeouts)."""
    with RunningService("ngsi-receiver", "--http_engine=httplib", "--http_threads=2",
                        "--http_max_connections=0") as service:
        port = service.ports["http_port"]
        slow = slow_loris(port, 2)
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("POST", "/notify", body("late"),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        waited = time.monotonic() - started
        connection.close()
        assert response.status == 204
        assert 20 < waited < 90, waited
        for s in slow:
            s.close()


def refused_text(port):
    """What a connection over the cap is told before the server closes it
    (it sends no request, so the answer cannot be a reset)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return data.decode()
    finally:
        s.close()


def test_connection_flood_from_one_source_is_refused_cheaply():
    """--http_max_connections_per_source (set through its environment twin):
    connections over the cap get a canned 503 and are closed at once, are
    counted, and are logged once per interval, not once each; a connection
    that closes frees its slot."""
    with RunningService("ngsi-receiver", "--http_threads=2", "--http_max_connections=16",
                        env={"NGSI_RECEIVER_HTTP_MAX_CONNECTIONS_PER_SOURCE": "3"}) as service:
        port, admin = service.ports["http_port"], service.ports["admin_port"]
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        wait_for(lambda: metric(admin, "ngsi_receiver_http_connections_open") == 3)
        for _ in range(20):
            answer = refused_text(port)
            assert answer.startswith("HTTP/1.1 503"), answer
            assert "Retry-After: 1" in answer
        assert metric(admin, 'ngsi_receiver_http_connections_refused_total{reason="source"}') == 20
        held.pop().close()
        wait_for(lambda: metric(admin, "ngsi_receiver_http_connections_open") == 2)
        assert post(service, {})[0] == 204
        for s in held:
            s.close()
    refusal_lines = [line for line in service.stderr_lines()
                     if "connections refused over a cap" in line]
    assert 1 <= len(refusal_lines) < 20, refusal_lines


def test_total_connection_cap_refuses_any_source():
    with RunningService("ngsi-receiver", "--http_max_connections_total=2") as service:
        port, admin = service.ports["http_port"], service.ports["admin_port"]
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        wait_for(lambda: metric(admin, "ngsi_receiver_http_connections_open") == 2)
        assert refused_text(port).startswith("HTTP/1.1 503")
        assert metric(admin, 'ngsi_receiver_http_connections_refused_total{reason="total"}') == 1
        for s in held:
            s.close()


def test_negative_connection_cap_fails_the_start():
    assert "http_max_connections_per_source" in start_error(
        "ngsi-receiver", "--http_max_connections_per_source=-1")
