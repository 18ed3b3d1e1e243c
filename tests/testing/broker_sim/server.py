"""The simulator process: the HTTP server, request dispatch, fault
handling, the stop-listening fault, and the command line.

    scripts/broker-sim --port 0 [--host 127.0.0.1] [--max-payload-bytes N]
                       [--fault JSON]...

First stdout line: {"event":"listening","port":N}. Logs: JSON lines on
stderr. SIGTERM / SIGINT: stop listening, drain, exit 0.
"""
import argparse
import json
import signal
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from tests.testing.broker_sim.admin import AdminApi
from tests.testing.broker_sim.errors import ApiError, problem
from tests.testing.broker_sim.encoding import dumps
from tests.testing.broker_sim.faults import Faults
from tests.testing.broker_sim.http_types import Request, Response
from tests.testing.broker_sim.ld_api import LdApi
from tests.testing.broker_sim.notifier import Notifier
from tests.testing.broker_sim.request_log import RequestLog
from tests.testing.broker_sim.store import Store
from tests.testing.broker_sim.subscriptions import SubscriptionEngine
from tests.testing.broker_sim.v2_api import V2Api
from tests.testing.broker_sim.validation import (DEFAULT_MAX_PAYLOAD,
                                                 check_payload_size)


def log(event, **fields):
    print(json.dumps({"event": event, **fields}), file=sys.stderr, flush=True)


def flavor_of(path):
    if path.startswith("/__sim"):
        return "admin"
    return "ld" if path.startswith("/ngsi-ld/") else "v2"


def error_response(error):
    return Response(error.status, dict(error.headers,
                                       **{"Content-Type": "application/json"}),
                    dumps(error.body))


def fault_error(status, flavor, retry_after):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status http.HTTPStatus does not know
        phrase = "Injected"
    body = (problem("InternalError", phrase, "injected fault")
            if flavor == "ld" else
            {"error": phrase.replace(" ", ""), "description": "injected fault"})
    headers = {"Retry-After": str(retry_after)} if retry_after is not None \
        else {}
    return ApiError(status, body, headers)


class BrokerSim:
    """Everything but the sockets: state, APIs, faults, log, notifier."""

    def __init__(self, max_payload=DEFAULT_MAX_PAYLOAD):
        self.max_payload = max_payload
        self.store = Store()
        self.notifier = Notifier(self.store)
        engine = SubscriptionEngine(self.store, self.notifier)
        self.apis = {"v2": V2Api(self.store, engine),
                     "ld": LdApi(self.store, engine),
                     "admin": AdminApi(self)}
        self.faults = Faults()
        self.request_log = RequestLog()
        self.listener = None

    def reset(self):
        self.notifier.wait_idle()
        self.store.reset()
        self.faults.clear()
        self.request_log.clear()

    def stop_listening(self, seconds):
        self.listener.pause(seconds)

    def dispatch(self, request):
        flavor = flavor_of(request.path)
        try:
            response = self.apis[flavor].handle(request)
        except ApiError as error:
            response = error_response(error)
        if flavor == "v2":
            response.headers["Fiware-Correlator"] = request.correlator
        return response


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    sim = None  # set on the subclass made by Listener

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, *args):
        pass  # every request is logged as JSON by _handle

    def _handle(self):
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        flavor = flavor_of(path)
        length = self.headers.get("Content-Length")
        request = Request(self.command, path, parts.query, self.headers)
        try:
            if flavor != "admin" and self._fault(request, flavor):
                return
            if length is not None:
                check_payload_size(int(length), self.sim.max_payload, flavor)
                request.body = self.rfile.read(int(length))
            response = self.sim.dispatch(request)
        except ApiError as error:
            self.close_connection = request.body is None and bool(length)
            response = error_response(error)
            if flavor == "v2":
                response.headers["Fiware-Correlator"] = request.correlator
        except Exception:  # a simulator bug: answer 500, keep serving
            log("internal_error", trace=traceback.format_exc())
            response = error_response(ApiError(500, {
                "error": "InternalServerError",
                "description": "simulator bug"}))
        self._write(response)
        if flavor != "admin":  # the log is the broker traffic only
            self.sim.request_log.add(request, response.status)
        log("request", method=self.command, path=path, status=response.status)

    def _fault(self, request, flavor):
        """Applies a fault rule; True if the request was answered/dropped."""
        rule = self.sim.faults.take(request.method, request.path)
        if rule is None:
            return False
        time.sleep(rule.get("delay_ms", 0) / 1000.0)
        if rule.get("drop_connection"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            self.sim.request_log.add(request, None)
            log("fault_dropped", path=request.path)
            return True
        if "status" in rule:
            raise fault_error(rule["status"], flavor, rule.get("retry_after"))
        return False

    def _write(self, response):
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body is not None:
            self.send_header("Content-Length", str(len(response.body)))
        elif response.status != 204:
            self.send_header("Content-Length", "0")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body is not None:
            self.wfile.write(response.body)


class Listener:
    """Owns the listening socket; can close it for a while and reopen it
    on the same port (the stop_listening fault). serve() blocks."""

    def __init__(self, sim, host, port):
        self._sim = sim
        self._host = host
        self._handler = type("BoundHandler", (Handler,), {"sim": sim})
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._paused_until = 0.0
        self._server = self._bind(port)
        self.port = self._server.server_address[1]

    def _bind(self, port):
        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer((self._host, port), self._handler)
        server.daemon_threads = True
        return server

    def serve(self):
        while not self._stopping.is_set():
            self._server.serve_forever(poll_interval=0.05)
            self._server.server_close()
            while time.time() < self._paused_until and \
                    not self._stopping.is_set():
                time.sleep(0.01)
            if not self._stopping.is_set():
                with self._lock:
                    self._server = self._bind(self.port)
                log("listening_again", port=self.port)

    def pause(self, seconds):
        self._paused_until = time.time() + seconds
        log("stop_listening", seconds=seconds)
        # shutdown() waits for serve_forever to return: not on this thread.
        threading.Thread(target=self._server.shutdown, daemon=True).start()

    def stop(self):
        self._stopping.set()
        with self._lock:
            self._server.shutdown()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="broker-sim", description="Orion / Orion-LD simulator")
    parser.add_argument("--port", type=int, required=True,
                        help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-payload-bytes", type=int,
                        default=DEFAULT_MAX_PAYLOAD,
                        help="answer 413 above this (Orion default: 1 MB)")
    parser.add_argument("--fault", action="append", default=[],
                        help="fault rule as JSON (see faults.py); repeatable")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = BrokerSim(args.max_payload_bytes)
    for rule in args.fault:
        sim.faults.add(json.loads(rule))
    try:
        listener = Listener(sim, args.host, args.port)
    except OSError as error:
        log("start_failed", error=str(error))
        return 1
    sim.listener = listener
    stop = threading.Event()
    # Handlers first: a caller may signal as soon as it reads the port.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"event": "listening", "port": listener.port},
                     separators=(",", ":")),
          flush=True)
    log("listening", host=args.host, port=listener.port)
    serving = threading.Thread(target=listener.serve, name="http")
    serving.start()
    stop.wait()
    listener.stop()
    serving.join()
    sim.notifier.stop()
    log("stopped")
    return 0
