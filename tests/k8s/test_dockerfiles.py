"""The Dockerfiles: hadolint-clean, and consistent with what they package.

No Docker engine is available to build them here, so beside the linter these
tests check what a build would get wrong silently: a runtime stage that is not
the slim base or runs as root, a build stage missing a library package that
install-deps (and so CI) builds with, ports that differ from the manifests.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.k8s.k8s_helpers import K8S, ROOT, require_tool

SERVICE_DOCKERFILES = {
    "ngsi-receiver": ROOT / "receiver-service" / "Dockerfile",
    "ngsi-replier": ROOT / "replier-service" / "Dockerfile",
}
SPARK_DOCKERFILE = ROOT / "docker" / "spark" / "Dockerfile"
NOT_SOURCE = {".git", "node_modules", ".venv"}


def all_dockerfiles():
    """Every Dockerfile in the source tree, so a new one is linted too."""
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        # Pruned, not filtered: build trees can be large.
        subdirectories[:] = [d for d in subdirectories
                             if d not in NOT_SOURCE and not d.startswith("build")]
        found += [Path(directory) / f for f in files if f.startswith("Dockerfile")]
    return sorted(found)


def stages(dockerfile):
    """Instructions (keyword, arguments) per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword.upper(), arguments.strip()))
    return result


def instructions(stage, keyword):
    return [arguments for k, arguments in stage if k == keyword]


def test_every_known_dockerfile_is_found():
    assert set(SERVICE_DOCKERFILES.values()) | {SPARK_DOCKERFILE} <= set(all_dockerfiles())


@pytest.mark.parametrize("dockerfile", all_dockerfiles(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(dockerfile):
    hadolint = require_tool("hadolint")
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def install_deps_apt_packages():
    text = (ROOT / "scripts" / "install-deps").read_text()
    block = re.search(r"apt_packages=\((.*?)\)", text, re.S).group(1)
    return set(block.split())


@pytest.mark.parametrize("name", sorted(SERVICE_DOCKERFILES))
def test_service_image_is_two_stages_ending_slim_and_non_root(name):
    build, runtime = stages(SERVICE_DOCKERFILES[name])
    assert instructions(build, "FROM")[0].startswith("debian:12 ")
    assert instructions(runtime, "FROM") == ["debian:12-slim"]
    # Only files from the build stage's /rootfs, assembled by runtime-files.
    assert instructions(runtime, "COPY") == ["--from=build /rootfs/ /"]
    assert not instructions(runtime, "RUN")
    (user,) = instructions(runtime, "USER")
    uid, _, gid = user.partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it.
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit()
    (entrypoint,) = instructions(runtime, "ENTRYPOINT")
    assert entrypoint == f'["/usr/local/bin/{name}"]', "exec form, so SIGTERM reaches it"
    run = " ".join(instructions(build, "RUN"))
    assert "scripts/runtime-files" in run


@pytest.mark.parametrize("name", sorted(SERVICE_DOCKERFILES))
def test_build_stage_installs_what_install_deps_builds_with(name):
    (build, _) = stages(SERVICE_DOCKERFILES[name])
    installed = set(" ".join(instructions(build, "RUN")).split())
    # git is for developers, not for building from a copied tree.
    wanted = install_deps_apt_packages() - {"git"}
    assert wanted <= installed, f"missing: {sorted(wanted - installed)}"


@pytest.mark.parametrize("name, env_file", [("ngsi-receiver", "receiver.env"),
                                            ("ngsi-replier", "replier.env")])
def test_exposed_ports_are_the_configured_ports(name, env_file):
    (_, runtime) = stages(SERVICE_DOCKERFILES[name])
    exposed = {int(p) for e in instructions(runtime, "EXPOSE") for p in e.split()}
    env = (K8S / "base" / env_file).read_text()
    configured = {int(port) for port in re.findall(r"_PORT=(\d+)", env)}
    assert exposed == configured


def test_spark_image_runs_non_root_with_the_kubernetes_entrypoint():
    (stage,) = stages(SPARK_DOCKERFILE)
    (user,) = instructions(stage, "USER")
    assert user.split(":")[0] != "0"
    run = " ".join(instructions(stage, "RUN"))
    assert re.search(r"pyspark==\$\{PYSPARK_VERSION\}", run)
    assert "/src/clients/python" in run
    entrypoint = ROOT / "docker" / "spark" / "entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111, "entrypoint.sh must be executable"
    bash = require_tool("bash")
    subprocess.run([bash, "-n", str(entrypoint)], check=True)
    text = entrypoint.read_text()
    # The two roles Spark's Kubernetes scheduler starts its pods with.
    assert "driver)" in text and "executor)" in text
    assert "KubernetesExecutorBackend" in text


def test_dockerignore_keeps_host_builds_out_of_the_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored
    assert "**/build" in ignored
