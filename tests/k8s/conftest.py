"""Fixtures for the deployment tests (helpers in k8s_helpers.py)."""
import sys
from pathlib import Path

import pytest

# The helpers are imported as tests.k8s.*, whichever directory pytest is
# started from and whether or not another conftest has already done this.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.k8s.k8s_helpers import K8S, OVERLAYS, kustomize_build  # noqa: E402

_rendered = {}


@pytest.fixture(params=OVERLAYS)
def overlay(request):
    """(name, resources) of each overlay, rendered once per session."""
    name = request.param
    if name not in _rendered:
        _rendered[name] = kustomize_build(K8S / "overlays" / name)
    return name, _rendered[name]
