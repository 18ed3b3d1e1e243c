"""Helpers for the deployment tests: tools, rendering overlays, lookups.

The tools (kustomize, hadolint, kubernetes-validate) come from
scripts/deps.d/k8s.sh. On a laptop without them the tests skip; in CI
(CI=true), where install-deps has run, a missing tool is a failure, so that a
broken install step can never turn into a quietly green run.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod")
DEPS_SCRIPT = ROOT / "scripts" / "deps.d" / "k8s.sh"

# Oldest Kubernetes release the manifests promise to run on; they are checked
# against its OpenAPI schemas (bundled in kubernetes-validate). 1.33 has every
# field used here (grpc probes, preStop sleep, PVC retention policy).
KUBERNETES_VERSION = "1.33.0"

# How long the services drain after SIGTERM (their documented behaviour); the
# grace period must cover that plus the preStop sleep.
DRAIN_SECONDS = 10


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_tool(what: str) -> None:
    """Skips locally, fails in CI, naming what to run."""
    message = f"{what} is not installed; run scripts/install-deps"
    if in_ci():
        pytest.fail(message + " (CI=true: a missing tool is a failure)")
    pytest.skip(message)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_tool(name)
    return path


def pinned_version(variable: str) -> str:
    """The version scripts/deps.d/k8s.sh pins in VARIABLE=..."""
    match = re.search(rf"^{variable}=(\S+)$", DEPS_SCRIPT.read_text(), re.M)
    assert match, f"{variable} not found in {DEPS_SCRIPT}"
    return match.group(1)


def load_yaml():
    """PyYAML (a dependency of kubernetes-validate), missing like a tool."""
    try:
        import yaml
    except ImportError:
        missing_tool("PyYAML (PyPI)")
    return yaml


def kustomize_build(directory: Path) -> list:
    yaml = load_yaml()
    kustomize = require_tool("kustomize")
    result = subprocess.run([kustomize, "build", str(directory)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"kustomize build {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(resources, kind, name=None):
    return [r for r in resources
            if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]


def find_one(resources, kind, name):
    matches = find(resources, kind, name)
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def workloads(resources):
    return [r for r in resources if r["kind"] in WORKLOAD_KINDS]


def pod_spec(workload):
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels", {})


def workload_for(resources, app_name):
    """The one workload whose pods are labelled app.kubernetes.io/name=APP_NAME."""
    matches = [w for w in workloads(resources)
               if pod_labels(w).get("app.kubernetes.io/name") == app_name]
    assert len(matches) == 1, f"expected one workload for {app_name}: {matches}"
    return matches[0]


def config_env(resources, workload):
    """Environment a workload's first container gets from its ConfigMaps."""
    env = {}
    for source in pod_spec(workload)["containers"][0].get("envFrom", []):
        if "configMapRef" in source:
            config_map = find_one(resources, "ConfigMap",
                                  source["configMapRef"]["name"])
            env.update(config_map.get("data", {}))
    return env
