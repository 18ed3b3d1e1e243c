"""Starts ngsi-bridge's pieces on loopback: the broker simulator, ngsi-receiver
and ngsi-replier, each with port 0, learning real ports from the listening line.

    with Stack() as stack:                       # or Stack(broker_url="http://orion:1026")
        stack.broker.create_subscription(...)    # notifications -> stack.notify_url
        stack.receiver_grpc, stack.replier_grpc, stack.line_port("event-json")

Binaries come from ``$NGSI_BRIDGE_BUILD_DIR`` (default ``<repo>/build``), the
simulator from ``<repo>/scripts/broker-sim``; ``$NGSI_BRIDGE_ROOT`` overrides the
repository root. ``BrokerClient`` is a tiny NGSIv2 HTTP client (standard
library) for feeding entities and reading them back. Processes are stopped
with SIGTERM (then SIGKILL) on exit. Not thread-safe; one owner.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence


def repo_root() -> Path:
    """The ngsi-bridge checkout: $NGSI_BRIDGE_ROOT, else the one holding this package."""
    if os.environ.get("NGSI_BRIDGE_ROOT"):
        return Path(os.environ["NGSI_BRIDGE_ROOT"])
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "scripts" / "broker-sim").exists() and (parent / "proto").is_dir():
            return parent
    raise RuntimeError("cannot find the ngsi-bridge repository (scripts/broker-sim): "
                       "set NGSI_BRIDGE_ROOT to the checkout")


def build_dir() -> Path:
    return Path(os.environ.get("NGSI_BRIDGE_BUILD_DIR") or repo_root() / "build")


def binary(name: str) -> Path:
    """``$NGSI_BRIDGE_RECEIVER_BIN`` / ``$NGSI_BRIDGE_REPLIER_BIN``, else the build tree's."""
    override = os.environ.get("NGSI_BRIDGE_" + name.split("-")[1].upper() + "_BIN")
    if override:
        return Path(override)
    folder = {"ngsi-receiver": "receiver-service", "ngsi-replier": "replier-service"}[name]
    path = build_dir() / folder / name
    if not path.exists():
        raise RuntimeError(f"{path} is not built: run scripts/build (or set NGSI_BRIDGE_BUILD_DIR)")
    return path


class Process:
    """A child that prints one JSON listening line on stdout first."""

    def __init__(self, name: str, command: Sequence[str], timeout: float = 30.0,
                 env: Optional[Mapping[str, str]] = None):
        self.name = name
        self.command = list(command)
        self.stderr: list[str] = []
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, **(env or {})})
        threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr),
                         daemon=True).start()
        first: list[str] = []
        ready = threading.Event()

        def read_first() -> None:
            first.append(self.process.stdout.readline())
            ready.set()
            for _ in self.process.stdout:
                pass

        threading.Thread(target=read_first, daemon=True).start()
        if not ready.wait(timeout) or not first[0].strip():
            self.stop()
            raise RuntimeError(f"{name} did not start ({' '.join(self.command)}):\n"
                               + "".join(self.stderr[-20:]))
        self.listening: dict = json.loads(first[0])

    @staticmethod
    def _drain(stream: Any, sink: list) -> None:
        for line in stream:
            sink.append(line)

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class BrokerClient:
    """Minimal NGSIv2 client over HTTP (standard library)."""

    def __init__(self, url: str, service: str = "", service_path: str = ""):
        self.url = url.rstrip("/")
        self.service = service
        self.service_path = service_path

    def request(self, method: str, path: str, body: Any = None,
                headers: Optional[Mapping[str, str]] = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        if self.service:
            all_headers["Fiware-Service"] = self.service
        if self.service_path:
            all_headers["Fiware-ServicePath"] = self.service_path
        all_headers.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as exc:
            text, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def create_subscription(self, notify_url: str, entity_type: str, condition_attrs: Iterable[str],
                            notify_attrs: Iterable[str] = (), description: str = "ngsi-bridge") -> str:
        """An NGSIv2 subscription to ``notify_url``; returns its id."""
        body = {"description": description,
                "subject": {"entities": [{"idPattern": ".*", "type": entity_type}],
                            "condition": {"attrs": list(condition_attrs)}},
                "notification": {"http": {"url": notify_url}, "attrs": list(notify_attrs),
                                 "attrsFormat": "normalized"}}
        status, reply = self.request("POST", "/v2/subscriptions", body)
        if status != 201:
            raise RuntimeError(f"creating the subscription at {self.url} failed: {status} {reply}")
        status, subs = self.request("GET", "/v2/subscriptions")
        ids = [s["id"] for s in subs if s.get("description") == description] if isinstance(subs, list) else []
        return ids[-1] if ids else ""

    def upsert(self, entities: Sequence[Mapping[str, Any]]) -> None:
        """``POST /v2/op/update`` with appendStrict-free ``append`` (create or update)."""
        status, reply = self.request("POST", "/v2/op/update", {"actionType": "append",
                                                                "entities": list(entities)})
        if status not in (200, 204):
            raise RuntimeError(f"updating entities at {self.url} failed: {status} {reply}")

    def entities(self, entity_type: str, limit: int = 1000) -> list:
        out, offset = [], 0
        while True:
            status, page = self.request("GET", f"/v2/entities?type={entity_type}&limit={min(limit, 1000)}"
                                               f"&offset={offset}")
            if status != 200:
                raise RuntimeError(f"listing {entity_type} at {self.url} failed: {status} {page}")
            out.extend(page)
            if len(page) < min(limit, 1000):
                return out
            offset += len(page)

    def delete_subscription(self, subscription_id: str) -> None:
        if subscription_id:
            self.request("DELETE", f"/v2/subscriptions/{subscription_id}")


class Stack:
    """Broker simulator (unless ``broker_url``), ngsi-receiver and ngsi-replier.

    Args:
        broker_url: a real NGSIv2 broker to use instead of the simulator.
        broker_name: the name the replier knows the broker by.
        host: the address the services bind (127.0.0.1; use 0.0.0.0 when a
            broker in a container must reach the receiver).
        notify_host: the host put in ``notify_url`` (default ``host``, or
            127.0.0.1 when binding 0.0.0.0).
        receiver_args / replier_args: extra flags.
        fpc_line: also open a line listener in the ``fpc`` format.
    """

    def __init__(self, broker_url: str = "", broker_name: str = "demo", host: str = "127.0.0.1",
                 notify_host: str = "", receiver_args: Sequence[str] = (),
                 replier_args: Sequence[str] = (), fpc_line: bool = False):
        self.broker_url = broker_url.rstrip("/")
        self.broker_name = broker_name
        self.host = host
        self.notify_host = notify_host or ("127.0.0.1" if host == "0.0.0.0" else host)
        self.receiver_args = list(receiver_args)
        self.replier_args = list(replier_args)
        self.fpc_line = fpc_line
        self.sim: Optional[Process] = None
        self.receiver: Optional[Process] = None
        self.replier: Optional[Process] = None

    def start(self) -> "Stack":
        try:
            if not self.broker_url:
                self.sim = Process("broker-sim", [sys.executable, str(repo_root() / "scripts" / "broker-sim"),
                                                  "--port", "0", "--host", "127.0.0.1"])
                self.broker_url = f"http://127.0.0.1:{self.sim.listening['port']}"
            self.start_receiver()
            self.replier = Process("ngsi-replier", [
                str(binary("ngsi-replier")), f"--host={self.host}", "--grpc_port=0", "--admin_port=0",
                f"--broker={self.broker_name}={self.broker_url},flavor=v2", *self.replier_args])
        except BaseException:
            self.stop()
            raise
        return self

    def start_receiver(self) -> None:
        extra = ["--line_listener=0:fpc"] if self.fpc_line else []
        self.receiver = Process("ngsi-receiver", [
            str(binary("ngsi-receiver")), f"--host={self.host}", "--http_port=0", "--grpc_port=0",
            "--admin_port=0", "--line_port=0", "--line_format=event-json", *extra, *self.receiver_args])

    @property
    def broker(self) -> BrokerClient:
        return BrokerClient(self.broker_url)

    @property
    def notify_url(self) -> str:
        return f"http://{self.notify_host}:{self.receiver.listening['http_port']}/notify"

    @property
    def receiver_grpc(self) -> str:
        return f"127.0.0.1:{self.receiver.listening['grpc_port']}"

    @property
    def replier_grpc(self) -> str:
        return f"127.0.0.1:{self.replier.listening['grpc_port']}"

    def line_port(self, fmt: str = "event-json") -> int:
        for listener in self.receiver.listening.get("line_listeners", []):
            if listener.get("format") == fmt:
                return int(listener["port"])
        if fmt == "event-json" and self.receiver.listening.get("line_port", -1) > 0:
            return int(self.receiver.listening["line_port"])
        raise RuntimeError(f"the receiver has no {fmt} line listener: {self.receiver.listening}")

    def stop(self) -> None:
        """Stops the services and the simulator (idempotent)."""
        for proc in (self.replier, self.receiver, self.sim):
            if proc is not None:
                proc.stop()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
