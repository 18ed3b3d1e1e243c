"""Fixtures for the broker simulator's own tests: one simulator process per
session (reset before each test), a local notification receiver, and an
HTTP call helper."""
import http.client
import json
import pathlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.testing.broker_sim.harness import RunningBrokerSim  # noqa: E402


class Call:
    """Sends one HTTP request; returns (status, headers dict with lower-case
    names, body bytes). `body` may be JSON-able, a str sent verbatim, or
    None for no body at all."""

    def __init__(self, base_url):
        self.base_url = base_url

    def __call__(self, method, path, body=None, headers=None, query=""):
        host_port = self.base_url.split("//", 1)[1]
        connection = http.client.HTTPConnection(host_port, timeout=30)
        headers = dict(headers or {})
        payload = None
        if isinstance(body, str):
            payload = body.encode("utf-8")
        elif body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        target = path + ("?" + query if query else "")
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return (response.status,
                {k.lower(): v for k, v in response.getheaders()}, data)


class NotificationReceiver:
    """A local HTTP endpoint recording every request it gets. `status`
    is what it answers (tests change it to simulate a failing endpoint)."""

    def __init__(self):
        self.received = []
        self.status = 200
        self._event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver._event:
                    receiver.received.append({
                        "method": self.command, "path": self.path,
                        "headers": list(self.headers.items()), "body": body})
                    receiver._event.notify_all()
                self.send_response_only(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def wait_for(self, count, timeout=5.0):
        """Blocks until `count` requests arrived; returns them all."""
        with self._event:
            self._event.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def session_sim():
    with RunningBrokerSim() as sim:
        yield sim


@pytest.fixture
def sim(session_sim):
    """A running simulator, empty: no entities, subscriptions, faults."""
    session_sim.reset()
    yield session_sim
    session_sim.clear_faults()


@pytest.fixture
def call(sim):
    return Call(sim.url)


@pytest.fixture
def receiver():
    endpoint = NotificationReceiver()
    yield endpoint
    endpoint.close()
