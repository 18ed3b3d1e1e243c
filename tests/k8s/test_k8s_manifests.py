"""Every overlay renders, and every resource is valid Kubernetes.

Validation is offline, against the OpenAPI schemas of KUBERNETES_VERSION
bundled in kubernetes-validate, in strict mode: a misspelt or misplaced field
is an error, not something the API server would silently drop.
"""
import json
import subprocess
from importlib import metadata
from urllib.parse import urlsplit

import pytest

from tests.k8s.k8s_helpers import (K8S, KUBERNETES_VERSION, ROOT, find,
                                   find_one, kustomize_build, load_yaml,
                                   missing_tool, pinned_version, require_tool)


def kubernetes_validate():
    try:
        import kubernetes_validate as module
    except ImportError:
        missing_tool("kubernetes-validate (PyPI)")
    return module


def schema_errors(resources):
    validator = kubernetes_validate()
    errors = []
    for resource in resources:
        name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
        try:
            validator.validate(resource, KUBERNETES_VERSION, strict=True)
        except validator.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(f"{name}: {path}: {error.message}")
        except validator.SchemaNotFoundError:
            # An unknown kind or apiVersion is as wrong as an unknown field.
            errors.append(f"{name}: no schema for {resource.get('apiVersion')}"
                          f" {resource.get('kind')} in Kubernetes {KUBERNETES_VERSION}")
    return errors


def test_overlay_validates_against_kubernetes_schemas(overlay):
    name, resources = overlay
    assert resources, f"overlay {name} rendered nothing"
    assert schema_errors(resources) == []


def test_base_validates_against_kubernetes_schemas():
    # The base is not applied alone (it lacks the broker Secret), but it must
    # still be valid by itself so that other overlays can build on it.
    assert schema_errors(kustomize_build(K8S / "base")) == []


def test_validator_rejects_an_unknown_field():
    # Guards the check above: strict validation must really catch mistakes.
    bad_service = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "typo"}, "spec": {"portz": []}}
    assert schema_errors([bad_service]) != []


def test_example_manifests_validate():
    yaml = load_yaml()
    examples = sorted(K8S.glob("examples/*.yaml"))
    assert examples
    for path in examples:
        resources = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert schema_errors(resources) == [], path


def test_tools_are_the_pinned_versions():
    kustomize = require_tool("kustomize")
    hadolint = require_tool("hadolint")
    kubernetes_validate()
    kustomize_version = subprocess.run([kustomize, "version"], capture_output=True,
                                       text=True, check=True).stdout.strip()
    assert kustomize_version == pinned_version("NGSI_KUSTOMIZE_VERSION")
    hadolint_version = subprocess.run([hadolint, "--version"], capture_output=True,
                                      text=True, check=True).stdout
    assert pinned_version("NGSI_HADOLINT_VERSION") in hadolint_version
    assert (metadata.version("kubernetes-validate")
            == pinned_version("NGSI_KUBERNETES_VALIDATE_VERSION"))


def service_port(service, port_name):
    for port in service["spec"]["ports"]:
        if port["name"] == port_name:
            return port["port"]
    raise AssertionError(f"{service['metadata']['name']} has no port {port_name}")


@pytest.mark.parametrize("example, url_path", [
    ("orion-subscription.json", ("notification", "http", "url")),
    ("orion-ld-subscription.json", ("notification", "endpoint", "uri")),
])
def test_subscription_examples_notify_the_prod_receiver_service(example, url_path):
    subscription = json.loads((K8S / "examples" / example).read_text())
    url = subscription
    for key in url_path:
        url = url[key]
    prod = kustomize_build(K8S / "overlays" / "prod")
    service = find_one(prod, "Service", "ngsi-receiver")
    namespace = service["metadata"]["namespace"]
    parts = urlsplit(url)
    assert parts.hostname == f"ngsi-receiver.{namespace}.svc.cluster.local"
    assert parts.port == service_port(service, "http")


def test_spark_submit_example_matches_services_and_network_policies():
    script = K8S / "examples" / "spark-submit.sh"
    bash = require_tool("bash")
    subprocess.run([bash, "-n", str(script)], check=True)
    text = script.read_text()
    prod = kustomize_build(K8S / "overlays" / "prod")
    # The label Spark pods get must be the one the NetworkPolicies admit.
    policy = find_one(prod, "NetworkPolicy", "ngsi-replier")
    admitted = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for key, value in admitted.items():
        assert f"spark.kubernetes.driver.label.{key}={value}" in text
        assert f"spark.kubernetes.executor.label.{key}={value}" in text
    # And the Services and ports it names must exist.
    receiver = find_one(prod, "Service", "ngsi-receiver")
    replier = find_one(prod, "Service", "ngsi-replier-headless")
    assert f'ngsi-receiver.${{bridge_domain}}:{service_port(receiver, "grpc")}' in text
    assert f'ngsi-receiver.${{bridge_domain}}:{service_port(receiver, "lines")}' in text
    assert f'ngsi-replier-headless.${{bridge_domain}}:{service_port(replier, "grpc")}' in text
    assert (ROOT / "k8s" / "examples" / "spark-rbac.yaml").exists()
    assert find(prod, "Namespace", "ngsi-bridge")
