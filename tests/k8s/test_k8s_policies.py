"""Policies every rendered overlay must meet, written as tests.

Each test runs on every overlay (dev, prod) and looks at what kustomize
renders, so a patch in an overlay cannot undo what the base promises.
"""
import pytest

from tests.k8s.k8s_helpers import (DRAIN_SECONDS, K8S, config_env, find,
                                   find_one, kustomize_build, pod_labels,
                                   pod_spec, workload_for, workloads)

SERVICES = ("ngsi-receiver", "ngsi-replier")


def containers(resources):
    for workload in workloads(resources):
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{workload['kind']}/{workload['metadata']['name']}", spec, container


def test_both_services_are_deployed(overlay):
    _, resources = overlay
    for name in SERVICES:
        workload = workload_for(resources, name)
        assert workload["metadata"]["name"] == name
        assert pod_spec(workload)["containers"][0]["name"] == name


def test_every_container_has_requests_and_limits(overlay):
    _, resources = overlay
    for where, _, container in containers(resources):
        resources_ = container.get("resources", {})
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in resources_.get(section, {}), (
                    f"{where} {container['name']}: no {section}.{resource}")


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)


def test_receiver_log_budget_fits_its_memory_limit(overlay):
    # The receiver's RSS at steady state is about 1.4x --log_max_bytes plus
    # ~50 MiB (docs/performance.md, Memory); the default budget (512 MiB)
    # would be OOM-killed under a 512Mi limit.
    _, resources = overlay
    receiver = workload_for(resources, "ngsi-receiver")
    env = config_env(resources, receiver)
    budget = int(env.get("NGSI_RECEIVER_LOG_MAX_BYTES", 512 << 20))
    limit = memory_bytes(pod_spec(receiver)["containers"][0]["resources"]["limits"]["memory"])
    assert 1.4 * budget + (50 << 20) <= limit, (
        f"--log_max_bytes {budget} needs about {1.4 * budget + (50 << 20):.0f} bytes, "
        f"limit is {limit}")


def test_every_container_has_liveness_and_readiness_probes(overlay):
    _, resources = overlay
    for where, _, container in containers(resources):
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in container, f"{where} {container['name']}: no {probe}"


def test_probes_use_grpc_health_and_readyz_on_configured_ports(overlay):
    _, resources = overlay
    for name, prefix in (("ngsi-receiver", "NGSI_RECEIVER"),
                         ("ngsi-replier", "NGSI_REPLIER")):
        workload = workload_for(resources, name)
        env = config_env(resources, workload)
        container = pod_spec(workload)["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["grpc"]["port"] == int(env[f"{prefix}_GRPC_PORT"])
        readiness = container["readinessProbe"]["httpGet"]
        assert readiness["path"] == "/readyz"
        assert ports[readiness["port"]] == int(env[f"{prefix}_ADMIN_PORT"])
        assert ports["grpc"] == int(env[f"{prefix}_GRPC_PORT"])
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == ports["admin"]
        assert annotations["prometheus.io/path"] == "/metrics"


def test_every_container_is_locked_down(overlay):
    _, resources = overlay
    for where, pod, container in containers(resources):
        pod_security = pod.get("securityContext", {})
        security = container.get("securityContext", {})
        label = f"{where} {container['name']}"
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, label
        assert security.get("readOnlyRootFilesystem") is True, label
        assert security.get("allowPrivilegeEscalation") is False, label
        assert security.get("capabilities", {}).get("drop") == ["ALL"], label
        assert "add" not in security.get("capabilities", {}), label
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", label
        assert pod.get("automountServiceAccountToken") is False, label


def test_termination_grace_covers_prestop_and_drain(overlay):
    _, resources = overlay
    for workload in workloads(resources):
        spec = pod_spec(workload)
        pre_stop = max(
            c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            for c in spec["containers"])
        # The default (30 s) is not good enough: say it, so it is a decision.
        grace = spec.get("terminationGracePeriodSeconds")
        assert grace is not None, workload["metadata"]["name"]
        assert grace > pre_stop + DRAIN_SECONDS, workload["metadata"]["name"]


def test_network_policies_cover_both_services(overlay):
    _, resources = overlay
    policies = find(resources, "NetworkPolicy")
    for name in SERVICES:
        labels = pod_labels(workload_for(resources, name))
        selecting = [p for p in policies
                     if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert selecting, f"no NetworkPolicy selects {name}"
        assert all("Ingress" in p["spec"]["policyTypes"] for p in selecting)


def admitted_roles(policy, port):
    """Values of ngsi-bridge/role admitted to PORT by POLICY's rules."""
    roles = set()
    for rule in policy["spec"]["ingress"]:
        if port not in {p["port"] for p in rule.get("ports", [])}:
            continue
        for peer in rule.get("from", []):
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            assert "ngsi-bridge/role" in labels, f"port {port} open to more than a role"
            roles.add(labels["ngsi-bridge/role"])
    return roles


def test_only_brokers_notify_and_only_spark_streams_or_writes(overlay):
    _, resources = overlay
    receiver = find_one(resources, "NetworkPolicy", "ngsi-receiver")
    replier = find_one(resources, "NetworkPolicy", "ngsi-replier")
    assert admitted_roles(receiver, 8061) == {"broker"}
    assert admitted_roles(receiver, 50051) == {"spark"}
    assert admitted_roles(receiver, 9998) == {"spark"}
    assert admitted_roles(replier, 50052) == {"spark"}


def test_services_select_pods_and_name_their_ports(overlay):
    _, resources = overlay
    services = find(resources, "Service")
    assert any(s["spec"].get("clusterIP") == "None"
               and s["spec"]["selector"].get("app.kubernetes.io/name") == "ngsi-receiver"
               for s in services), "no headless Service for the receiver"
    for service in services:
        selector = service["spec"]["selector"]
        targets = [w for w in workloads(resources)
                   if selector.items() <= pod_labels(w).items()]
        assert targets, f"Service {service['metadata']['name']} selects no pods"
        port_names = {p["name"] for c in pod_spec(targets[0])["containers"]
                      for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, service["metadata"]["name"]


def test_disruption_budgets_and_autoscaler(overlay):
    _, resources = overlay
    for name in SERVICES:
        budget = find_one(resources, "PodDisruptionBudget", name)
        labels = pod_labels(workload_for(resources, name))
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    autoscaler = find_one(resources, "HorizontalPodAutoscaler", "ngsi-replier")
    target = autoscaler["spec"]["scaleTargetRef"]
    replier = find_one(resources, target["kind"], target["name"])
    # A replicas field would fight the autoscaler on every apply.
    assert "replicas" not in replier["spec"]
    assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]


def test_replier_gets_brokers_from_a_secret(overlay):
    _, resources = overlay
    sources = pod_spec(workload_for(resources, "ngsi-replier"))["containers"][0]["envFrom"]
    assert any("secretRef" in s for s in sources)
    env = config_env(resources, workload_for(resources, "ngsi-replier"))
    assert "NGSI_REPLIER_BROKER" not in env, "broker settings belong in the Secret"


def test_prod_receiver_is_a_statefulset_with_its_log_on_a_volume():
    resources = kustomize_build(K8S / "overlays" / "prod")
    assert not find(resources, "Deployment", "ngsi-receiver")
    receiver = find_one(resources, "StatefulSet", "ngsi-receiver")
    spec = receiver["spec"]
    assert spec["replicas"] > 1
    headless = find_one(resources, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"]
              for m in spec["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert claims and claims <= mounts.keys()
    data_dir = config_env(resources, receiver)["NGSI_RECEIVER_DATA_DIR"]
    assert data_dir in {mounts[c] for c in claims}


def test_prod_is_stricter_than_dev():
    prod = kustomize_build(K8S / "overlays" / "prod")
    for where, _, container in containers(prod):
        requests = container["resources"]["requests"]
        limits = container["resources"]["limits"]
        # Memory reserved is memory allowed: no overcommit in prod.
        assert requests["memory"] == limits["memory"], where
        image = container["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_namespace_enforces_restricted_pod_security(name):
    resources = kustomize_build(K8S / "overlays" / name)
    (namespace,) = find(resources, "Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == namespace["metadata"]["name"]
