"""Fixtures shared by the end-to-end suites."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ngsi_stubs(tmp_path_factory):
    """The ngsi_bridge.v1 protobuf and gRPC modules, generated from proto/
    with grpc_tools.protoc into a temporary folder (the Python client package
    will provide them later). Returns a namespace with ngsi_pb2, receiver_pb2,
    receiver_pb2_grpc, replier_pb2, replier_pb2_grpc."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("stubs")
    proto_root = REPO_ROOT / "proto"
    include = Path(protoc.__file__).resolve().parent / "_proto"
    files = [str(p) for p in sorted((proto_root / "ngsi_bridge" / "v1").glob("*.proto"))]
    code = protoc.main(["grpc_tools.protoc", f"-I{proto_root}", f"-I{include}",
                        f"--python_out={out}", f"--grpc_python_out={out}", *files])
    assert code == 0, "grpc_tools.protoc failed"
    for package in (out / "ngsi_bridge", out / "ngsi_bridge" / "v1"):
        (package / "__init__.py").touch()
    sys.path.insert(0, str(out))
    try:
        modules = {name: importlib.import_module(f"ngsi_bridge.v1.{name}")
                   for name in ("ngsi_pb2", "receiver_pb2", "receiver_pb2_grpc",
                                "replier_pb2", "replier_pb2_grpc")}
    finally:
        sys.path.remove(str(out))

    class Stubs:
        pass

    stubs = Stubs()
    for name, module in modules.items():
        setattr(stubs, name, module)
    return stubs


@pytest.fixture(scope="module")
def stack_binaries():
    """Skips the tests that use it unless ngsi-receiver and ngsi-replier are
    built where ngsi_bridge.demo.stack looks for them."""
    from tests.e2e import spark_support  # noqa: F401 (puts ngsi_bridge on sys.path)
    from ngsi_bridge.demo.stack import binary
    try:
        binary("ngsi-receiver"), binary("ngsi-replier")
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def spark(request, stack_binaries):
    """A local Spark session for one test, named after its module
    (test_spark_dstream.py: "e2e-dstream"). It starts before the test opens
    any gRPC channel; local[2] because a socket receiver holds one core."""
    from ngsi_bridge.spark.session import spark_session
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_spark_")
    session = spark_session("local[2]", "e2e-" + name.replace("_", "-"))
    yield session
    session.stop()
