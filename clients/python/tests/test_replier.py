"""ReplierClient against an in-process fake Replier: batching, dict input,
per-entity results, streaming, Batcher, passthrough and errors."""
import pytest

from ngsi_bridge import ReplierClient
from ngsi_bridge.errors import ReplierError
from ngsi_bridge.replier import parse_operation
from ngsi_bridge.v1 import ngsi_pb2, replier_pb2


def entities(n, prefix="E"):
    return [{"id": f"{prefix}{i}", "type": "T", "x": i} for i in range(n)]


def test_write_batches_and_returns_one_result_per_entity(fake_replier):
    with ReplierClient(fake_replier.address, "orion", batch_size=2) as client:
        result = client.write(entities(5), op="upsert", service="demo", service_path="/p")
    assert [r.id for r in result.results] == [f"E{i}" for i in range(5)]
    assert result.ok and result.succeeded == 5 and result.broker_calls == 3
    requests = fake_replier.servicer.requests
    assert [len(r.entities) for r in requests] == [2, 2, 1]
    assert all(r.service == "demo" and r.service_path == "/p" for r in requests)
    assert requests[0].operation == replier_pb2.OPERATION_UPSERT
    assert requests[0].entities[0].attrs["x"].bare  # keyValues dicts stay bare


def test_per_entity_failures_are_reported_and_raise_on_demand(fake_replier):
    with ReplierClient(fake_replier.address, "orion") as client:
        result = client.write([{"id": "good", "type": "T"}, {"id": "bad1", "type": "T"}], op="update")
    assert result.failed == 1 and not result.ok
    assert result.errors[0].id == "bad1" and result.errors[0].http_status == 422
    with pytest.raises(ReplierError, match="1 of 2 entities were not written: bad1"):
        result.raise_for_errors()


def test_proto_entities_and_single_entity(fake_replier):
    with ReplierClient(fake_replier.address, "orion") as client:
        result = client.write(ngsi_pb2.Entity(id="P", type="T"), op="replace")
    assert result.results[0].id == "P"
    assert fake_replier.servicer.requests[0].operation == replier_pb2.OPERATION_REPLACE


def test_default_broker_is_the_replier_only_broker(fake_replier):
    with ReplierClient(fake_replier.address) as client:
        client.write(entities(1))
    assert fake_replier.servicer.requests[0].broker == "orion"


def test_unknown_broker_error_names_the_fix(fake_replier):
    with ReplierClient(fake_replier.address, "nope") as client:
        with pytest.raises(ReplierError, match="broker name"):
            client.write(entities(1))


def test_write_many_pipelines_over_write_stream(fake_replier):
    with ReplierClient(fake_replier.address, "orion") as client:
        result = client.write_many(entities(7), batch_size=3)
    assert fake_replier.servicer.stream_calls == 1
    assert result.succeeded == 7 and [r.id for r in result.results][-1] == "E6"


def test_batcher_flushes_by_size_and_on_exit(fake_replier):
    with ReplierClient(fake_replier.address, "orion") as client:
        with client.batcher("upsert", batch_size=4, service="s") as batch:
            batch.extend(entities(10))
            assert len(fake_replier.servicer.requests) == 2
    assert [len(r.entities) for r in fake_replier.servicer.requests] == [4, 4, 2]
    assert batch.result.succeeded == 10


def test_passthrough_and_list_brokers(fake_replier):
    with ReplierClient(fake_replier.address) as client:
        assert client.list_brokers()[0].name == "orion"
        reply = client.passthrough("post", "/v2/op/update", body="{}")
    assert reply.status == 204 and fake_replier.servicer.passthroughs[0].method == "POST"


def test_operations_parse_and_reject():
    assert parse_operation("append-strict") == replier_pb2.OPERATION_APPEND_STRICT
    assert parse_operation("OPERATION_DELETE") == replier_pb2.OPERATION_DELETE
    assert parse_operation(replier_pb2.OPERATION_CREATE) == replier_pb2.OPERATION_CREATE
    with pytest.raises(ValueError, match="upsert"):
        parse_operation("merge")


def test_unreachable_replier_error_says_what_to_check():
    with ReplierClient("127.0.0.1:1", "orion", timeout=0.5) as client:
        with pytest.raises(ReplierError, match="ngsi-replier runs"):
            client.write(entities(1))
