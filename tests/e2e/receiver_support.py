"""Helpers of the ngsi-receiver end-to-end suites: send a fixture over HTTP,
read events back over gRPC and over socket line listeners."""
from __future__ import annotations

import http.client
import json
import re
import socket
import time
import urllib.parse
import urllib.request

import grpc

SKIPPED_HEADERS = {"host", "content-length"}


def fixture_body_bytes(fixture: dict) -> bytes:
    """The exact body the broker sent: body_raw when recorded, else the body
    (a string as is, JSON compact, null as empty)."""
    if fixture.get("body_raw") is not None:
        return fixture["body_raw"].encode("utf-8")
    body = fixture.get("body")
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fixture_target(fixture: dict) -> str:
    url = urllib.parse.urlsplit(fixture["url"])
    return url.path + (f"?{url.query}" if url.query else "")


def header(fixture: dict, name: str, default=None):
    for key, value in fixture.get("headers", {}).items():
        if key.lower() == name.lower():
            return value
    return default


def send(port: int, method: str, target: str, headers: dict, body: bytes):
    """One HTTP request; returns (status, headers dict lower-cased, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        for name, value in headers.items():
            if name.lower() not in SKIPPED_HEADERS:
                connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


def send_fixture(port: int, fixture: dict):
    return send(port, fixture["method"], fixture_target(fixture),
                fixture.get("headers", {}), fixture_body_bytes(fixture))


def read_events(stubs, grpc_port: int, after: int, end: int, timeout: float = 30):
    """Events after `after` through `end` (inclusive), in order, over a fresh
    gRPC channel to the receiver at 127.0.0.1:`grpc_port`."""
    request = stubs.receiver_pb2.SubscribeRequest(
        start=stubs.receiver_pb2.SubscribeRequest.AFTER, after_sequence=after,
        end_sequence=end)
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = stubs.receiver_pb2_grpc.EventStreamStub(channel)
        return list(stub.Subscribe(request, timeout=timeout))


class LineReader:
    """A socket line client (what Spark's socketTextStream does)."""

    def __init__(self, port: int, timeout: float = 30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def read_line(self) -> str:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("line listener closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8")

    def close(self):
        self.sock.close()


def metric(admin_port: int, name_and_labels: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    match = re.search(r"^" + re.escape(name_and_labels) + r" (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def wait_for(condition, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)
