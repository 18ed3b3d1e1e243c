"""The receiver's broker subscriptions in every overlay: the subscriptions
file is mounted where NGSI_RECEIVER_SUBSCRIPTIONS_FILE says, brokers are
told to notify the ngsi-receiver Service's DNS name, and the receiver itself
accepts the rendered file and creates the Orion subscription from it.
"""
import json
import posixpath
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.k8s.k8s_helpers import (K8S, find_one, kustomize_build, load_yaml,
                                   pod_spec, workload_for)


def receiver_env(resources, workload):
    env = {}
    for source in pod_spec(workload)["containers"][0].get("envFrom", []):
        if "configMapRef" in source:
            env.update(find_one(resources, "ConfigMap",
                                source["configMapRef"]["name"]).get("data", {}))
    for item in pod_spec(workload)["containers"][0].get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


def mounted_file(resources, workload, path):
    """The text of the ConfigMap key mounted at `path` in the workload's
    first container, or None."""
    spec = pod_spec(workload)
    container = spec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    directory, name = posixpath.split(path)
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != directory:
            continue
        source = volumes.get(mount["name"], {}).get("configMap")
        if source is None:
            continue
        assert mount.get("readOnly") is True, "the subscriptions mount is read-only"
        config_map = find_one(resources, "ConfigMap", source["name"])
        return config_map.get("data", {}).get(name)
    return None


def rendered_subscriptions(resources):
    receiver = workload_for(resources, "ngsi-receiver")
    env = receiver_env(resources, receiver)
    path = env.get("NGSI_RECEIVER_SUBSCRIPTIONS_FILE")
    assert path, "NGSI_RECEIVER_SUBSCRIPTIONS_FILE is not set"
    text = mounted_file(resources, receiver, path)
    assert text is not None, f"nothing from a ConfigMap is mounted at {path}"
    return env, text


def test_subscriptions_file_is_mounted_and_names_orion(overlay):
    _, resources = overlay
    _, text = rendered_subscriptions(resources)
    doc = load_yaml().safe_load(text)
    subs = doc["subscriptions"]
    assert subs, "the example file declares no subscription"
    defaults = doc.get("defaults", {})
    for sub in subs:
        assert sub["name"]
        broker = sub.get("broker", defaults.get("broker", ""))
        assert urlsplit(broker).scheme == "http"
        # The overlay's callback URL applies: one file fits every namespace.
        assert "callback_url" not in sub


def test_callback_url_is_the_receiver_service_dns_name(overlay):
    _, resources = overlay
    env, _ = rendered_subscriptions(resources)
    service = find_one(resources, "Service", "ngsi-receiver")
    namespace = service["metadata"]["namespace"]
    url = urlsplit(env["NGSI_RECEIVER_CALLBACK_URL"])
    assert url.scheme == "http"
    assert url.hostname == f"ngsi-receiver.{namespace}.svc.cluster.local"
    http = [p for p in service["spec"]["ports"] if p["name"] == "http"][0]
    assert url.port == http["port"]
    assert url.path == "/notify"
    assert env["NGSI_RECEIVER_RECONCILE_INTERVAL_SECONDS"].isdigit()


def test_prod_keeps_backfill_watermarks_on_the_volume():
    resources = kustomize_build(K8S / "overlays" / "prod")
    receiver = workload_for(resources, "ngsi-receiver")
    env = receiver_env(resources, receiver)
    claims = {t["metadata"]["name"] for t in receiver["spec"]["volumeClaimTemplates"]}
    claim_mounts = {m["mountPath"] for m in
                    pod_spec(receiver)["containers"][0]["volumeMounts"]
                    if m["name"] in claims}
    assert env["NGSI_RECEIVER_STATE_DIR"] in claim_mounts


def test_receiver_creates_the_rendered_subscription(overlay, tmp_path):
    """Runs the built receiver with the rendered subscription settings
    (through their environment twins; the broker pointed at the simulator)
    and checks the Orion subscription it creates."""
    from tests.testing.services import RunningService, binary
    try:
        binary("ngsi-receiver")
    except FileNotFoundError:
        pytest.skip("ngsi-receiver is not built")
    from tests.testing.broker_sim.harness import RunningBrokerSim

    _, resources = overlay
    env, text = rendered_subscriptions(resources)
    doc = load_yaml().safe_load(text)
    names = {s["name"] for s in doc["subscriptions"]}
    with RunningBrokerSim() as sim:
        doc.setdefault("defaults", {})["broker"] = sim.url
        for sub in doc["subscriptions"]:
            sub.pop("broker", None)
        path = tmp_path / "subscriptions.yaml"
        path.write_text(json.dumps(doc))
        twins = {k: v for k, v in env.items()
                 if k.startswith("NGSI_RECEIVER_")
                 and not k.endswith(("_PORT", "_DIR"))}
        twins["NGSI_RECEIVER_SUBSCRIPTIONS_FILE"] = str(path)
        with RunningService("ngsi-receiver", env=twins) as receiver:
            admin = receiver.ports["admin_port"]
            view = {}
            for _ in range(600):  # polls until the first pass is over
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{admin}/subscriptions",
                        timeout=5) as response:
                    doc_view = json.loads(response.read().decode())
                view = {s["name"]: s for s in doc_view["subscriptions"]}
                if all(view.get(n, {}).get("lastAction") for n in names):
                    break
                time.sleep(0.05)
            assert {n: view[n].get("lastAction") for n in names} == {
                n: "created" for n in names}, view
        with urllib.request.urlopen(f"{sim.url}/v2/subscriptions",
                                    timeout=5) as response:
            created = json.loads(response.read().decode())
    assert len(created) == len(names), created
    for sub in created:
        assert sub["notification"]["http"]["url"] == \
            env["NGSI_RECEIVER_CALLBACK_URL"]
        assert sub["description"].startswith("[ngsi-bridge:")
