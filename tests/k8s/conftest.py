"""Fixtures for the deployment tests (helpers in k8s_helpers.py)."""
import pytest

from tests.k8s.k8s_helpers import K8S, OVERLAYS, kustomize_build

_rendered = {}


@pytest.fixture(params=OVERLAYS)
def overlay(request):
    """(name, resources) of each overlay, rendered once per session."""
    name = request.param
    if name not in _rendered:
        _rendered[name] = kustomize_build(K8S / "overlays" / name)
    return name, _rendered[name]
