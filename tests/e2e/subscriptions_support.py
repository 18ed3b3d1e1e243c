"""Helpers of the subscription lifecycle suites: broker calls against the
simulator, the receiver's /subscriptions view, reading events over gRPC."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from tests.e2e import receiver_support
from tests.testing.services import RunningService

# The tenant headers of the subscriptions the e2e suites declare.
V2 = {"Fiware-Service": "smartcity", "Fiware-ServicePath": "/madrid"}
LD = {"NGSILD-Tenant": "smartcity"}


def call(sim, method: str, path: str, body=None, headers: dict | None = None,
         query: str = ""):
    """One request to the simulator; returns (status, headers lower-cased,
    parsed JSON body or None)."""
    url = f"{sim.url}{path}" + (f"?{query}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return (response.status, {k.lower(): v for k, v in response.headers.items()},
                    json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, {}, (json.loads(text) if text else None)


def subscriptions(sim, flavor: str = "v2", headers: dict | None = None) -> list[dict]:
    path = "/ngsi-ld/v1/subscriptions" if flavor == "ld" else "/v2/subscriptions"
    status, _, body = call(sim, "GET", path, headers=headers, query="limit=1000")
    assert status == 200, body
    return body


def ours(sim, name: str, flavor: str = "v2", headers: dict | None = None) -> dict | None:
    for sub in subscriptions(sim, flavor, headers):
        if (sub.get("description") or "").startswith(f"[ngsi-bridge:{name}]"):
            return sub
    return None


def subscription_writes(sim) -> list[str]:
    """POST/PATCH/DELETE calls on subscriptions in the simulator's log."""
    return [f"{r['method']} {r['path']}" for r in sim.requests()
            if "subscriptions" in r["path"] and r["method"] != "GET"]


def receiver_view(receiver: RunningService) -> dict:
    """The receiver's /subscriptions, by name."""
    port = receiver.ports["admin_port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/subscriptions", timeout=5) as r:
        doc = json.loads(r.read().decode())
    return {s["name"]: s for s in doc["subscriptions"]}


def metric_value(receiver: RunningService, name_and_labels: str) -> float:
    port = receiver.ports["admin_port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    match = re.search(r"^" + re.escape(name_and_labels) + r" (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def latest_sequence(receiver: RunningService) -> int:
    return int(metric_value(receiver, 'ngsi_receiver_log_sequence{end="latest"}'))


def read_events(stubs, receiver: RunningService, after: int, end: int,
                timeout: float = 30) -> list:
    return receiver_support.read_events(stubs, receiver.ports["grpc_port"], after, end, timeout)


def start_receiver(subs_file, state_dir, *extra: str) -> RunningService:
    return RunningService(
        "ngsi-receiver", f"--subscriptions_file={subs_file}",
        "--callback_url=http://127.0.0.1:{http_port}/notify",
        f"--state_dir={state_dir}", *extra).__enter__()


def reconciling_receiver(sim, folder, subs_yaml: str) -> RunningService:
    """A receiver reconciling every second the subscriptions of `subs_yaml`
    (a format string whose {broker} becomes the simulator's URL)."""
    subs = folder / "subscriptions.yaml"
    subs.write_text(subs_yaml.format(broker=sim.url))
    return start_receiver(subs, folder, "--reconcile_interval_seconds=1")


def all_active(receiver: RunningService, names=("rooms", "parking")) -> bool:
    """Every named subscription has a broker id and is active, as the receiver reports."""
    view = receiver_view(receiver)
    return all(view.get(n, {}).get("status") == "active" and view[n]["id"] for n in names)


def reconcile_passes(receiver: RunningService) -> float:
    return metric_value(receiver, 'ngsi_receiver_subscription_passes_total{outcome="ok"}')
