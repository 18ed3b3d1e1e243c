"""ngsi-replier against the broker simulator: every operation for both
flavors, per-entity results for mixed batches, batch splitting, tenancy and
correlator headers, streams, passthrough restrictions, broker listing."""
import json
import time

import grpc
import pytest

from tests.e2e.replier_support import (  # noqa: F401 (fresh_broker, pb, sim: fixtures)
    ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, OK,
    Replier, codes, fresh_broker, ld_entity, ld_get, pb, sim, v2_count,
    v2_entity, v2_get, writes)


@pytest.fixture(scope="module")
def replier(ngsi_stubs, sim):
    with Replier(ngsi_stubs,
                 # Generous timeouts: on a loaded CI machine a 1 MB batch can
                 # take seconds, and a timeout would re-send it (harmless
                 # for upsert, but these tests count what was sent).
                 f"--broker=orion={sim.url},flavor=v2,timeout_ms=60000",
                 f"--broker=ld={sim.url},flavor=ld,timeout_ms=60000",
                 f"--broker=secure={sim.url},token=s3cret-token,service=acme") as running:
        yield running


# --- NGSIv2: every operation ------------------------------------------------

def test_v2_create_appends_strictly_and_rejects_existing_attributes(replier, sim, pb, ngsi_stubs):
    entities = [v2_entity(ngsi_stubs, f"E{i}", A=i) for i in range(3)]
    first = replier.write("orion", pb.OPERATION_CREATE, entities)
    assert codes(first) == [OK] * 3 and first.succeeded == 3
    assert v2_get(sim, "E1")[1]["A"]["value"] == 1
    again = replier.write("orion", pb.OPERATION_CREATE, entities[:1])
    assert codes(again) == [ALREADY_EXISTS]
    assert list(again.results[0].failed_attrs) == ["A"]
    assert "already exist" in again.results[0].broker_error
    body = json.loads(writes(sim, "/v2/op/update")[0]["body"])
    assert body["actionType"] == "appendStrict"


def test_v2_upsert_creates_then_adds_and_overwrites(replier, sim, pb, ngsi_stubs):
    assert codes(replier.write("orion", pb.OPERATION_UPSERT,
                               [v2_entity(ngsi_stubs, "E", A=1)])) == [OK]
    assert codes(replier.write("orion", pb.OPERATION_UPSERT,
                               [v2_entity(ngsi_stubs, "E", A=2, B=3)])) == [OK]
    entity = v2_get(sim, "E")[1]
    assert (entity["A"]["value"], entity["B"]["value"]) == (2, 3)


def test_v2_update_touches_existing_attributes_only(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)])
    response = replier.write("orion", pb.OPERATION_UPDATE,
                             [v2_entity(ngsi_stubs, "E", A=5, C=1)])
    assert codes(response) == [FAILED_PRECONDITION]
    assert list(response.results[0].failed_attrs) == ["C"]
    assert v2_get(sim, "E")[1]["A"]["value"] == 5


def test_v2_append_and_append_strict(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)])
    assert codes(replier.write("orion", pb.OPERATION_APPEND,
                               [v2_entity(ngsi_stubs, "E", A=2, B=2)])) == [OK]
    strict = replier.write("orion", pb.OPERATION_APPEND_STRICT,
                           [v2_entity(ngsi_stubs, "E", B=9, C=3)])
    assert codes(strict) == [ALREADY_EXISTS]
    entity = v2_get(sim, "E")[1]
    assert entity["B"]["value"] == 2 and entity["C"]["value"] == 3


def test_v2_replace_drops_other_attributes(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1, B=1)])
    assert codes(replier.write("orion", pb.OPERATION_REPLACE,
                               [v2_entity(ngsi_stubs, "E", C=7)])) == [OK]
    entity = v2_get(sim, "E")[1]
    assert "A" not in entity and entity["C"]["value"] == 7


def test_v2_delete_attributes_then_entities(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT,
                  [v2_entity(ngsi_stubs, "E1", A=1, B=1), v2_entity(ngsi_stubs, "E2", A=1)])
    attrs = replier.write("orion", pb.OPERATION_DELETE,
                          [v2_entity(ngsi_stubs, "E1", A=0), v2_entity(ngsi_stubs, "E2", B=0)],
                          delete_attributes=True)
    assert codes(attrs) == [OK, FAILED_PRECONDITION]
    assert list(attrs.results[1].failed_attrs) == ["B"]
    assert "A" not in v2_get(sim, "E1")[1]
    # Without delete_attributes the entities go, even when attrs are listed.
    gone = replier.write("orion", pb.OPERATION_DELETE,
                         [v2_entity(ngsi_stubs, "E1", B=0), v2_entity(ngsi_stubs, "E2"),
                          v2_entity(ngsi_stubs, "E3")])
    assert codes(gone) == [OK, OK, NOT_FOUND]
    assert v2_get(sim, "E1")[0] == 404 and v2_get(sim, "E2")[0] == 404


def test_v2_bare_entities_go_as_key_values(replier, sim, pb, ngsi_stubs):
    entity = ngsi_stubs.ngsi_pb2.Entity(id="K", type="T")
    entity.attrs["speed"].bare = True
    entity.attrs["speed"].value.number_value = 12
    assert codes(replier.write("orion", pb.OPERATION_UPSERT, [entity])) == [OK]
    call = writes(sim, "/v2/op/update")[0]
    assert "keyValues" in call["query"]
    assert json.loads(call["body"])["entities"][0]["speed"] == 12
    assert v2_get(sim, "K")[1]["speed"] == {"type": "Number", "value": 12, "metadata": {}}


# --- NGSI-LD: every operation ------------------------------------------------

def test_ld_create_reports_existing_entities_per_entity(replier, sim, pb, ngsi_stubs):
    first = replier.write("ld", pb.OPERATION_CREATE,
                          [ld_entity(ngsi_stubs, "urn:ngsi-ld:T:1", P=1)])
    assert codes(first) == [OK]
    mixed = replier.write("ld", pb.OPERATION_CREATE,
                          [ld_entity(ngsi_stubs, "urn:ngsi-ld:T:1", P=1),
                           ld_entity(ngsi_stubs, "urn:ngsi-ld:T:2", P=2)])
    assert codes(mixed) == [ALREADY_EXISTS, OK]
    assert mixed.results[0].http_status == 409
    assert ld_get(sim, "urn:ngsi-ld:T:2")[1]["P"]["value"] == 2


def test_ld_upsert_update_append_strict_replace_delete(replier, sim, pb, ngsi_stubs):
    e = "urn:ngsi-ld:T:9"
    assert codes(replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, e, P=1)])) == [OK]
    assert codes(replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, e, Q=2)])) == [OK]
    assert set(ld_get(sim, e)[1]) >= {"P", "Q"}  # upsert merges (options=update)
    assert codes(replier.write("ld", pb.OPERATION_UPDATE, [ld_entity(ngsi_stubs, e, P=3)])) == [OK]
    assert ld_get(sim, e)[1]["P"]["value"] == 3
    assert codes(replier.write("ld", pb.OPERATION_APPEND, [ld_entity(ngsi_stubs, e, R=4)])) == [OK]
    strict = replier.write("ld", pb.OPERATION_APPEND_STRICT, [ld_entity(ngsi_stubs, e, R=5)])
    assert ld_get(sim, e)[1]["R"]["value"] == 4  # noOverwrite kept it
    assert "noOverwrite" in writes(sim, "/ngsi-ld/v1/entityOperations/update",
                                   at_least=3)[-1]["query"]
    assert strict.results[0].code in (OK, INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS)
    assert codes(replier.write("ld", pb.OPERATION_REPLACE, [ld_entity(ngsi_stubs, e, S=6)])) == [OK]
    assert set(k for k in ld_get(sim, e)[1] if k not in ("id", "type")) == {"S"}
    deleted = replier.write("ld", pb.OPERATION_DELETE,
                            [ld_entity(ngsi_stubs, e), ld_entity(ngsi_stubs, "urn:ngsi-ld:T:none")])
    assert codes(deleted) == [OK, NOT_FOUND]
    assert ld_get(sim, e)[0] == 404
    assert json.loads(writes(sim, "/ngsi-ld/v1/entityOperations/delete")[-1]["body"]) == [
        e, "urn:ngsi-ld:T:none"]


def test_ld_delete_attributes_one_call_each(replier, sim, pb, ngsi_stubs):
    e = "urn:ngsi-ld:T:a"
    replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, e, P=1, Q=2)])
    response = replier.write("ld", pb.OPERATION_DELETE,
                             [ld_entity(ngsi_stubs, e, P=0, Z=0)], delete_attributes=True)
    assert codes(response) == [NOT_FOUND] and list(response.results[0].failed_attrs) == ["Z"]
    assert set(ld_get(sim, e)[1]) & {"P", "Q"} == {"Q"}


def test_ld_context_goes_as_link_header_or_inline(replier, sim, pb, ngsi_stubs):
    from google.protobuf import struct_pb2
    url = struct_pb2.Value(string_value="https://example.org/ctx.jsonld")
    replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, "urn:a:1", P=1)],
                  contexts=[url])
    call = writes(sim, "/ngsi-ld/v1/entityOperations/upsert")[-1]
    link = {k.lower(): v for k, v in call["headers"].items()}.get("link", "")
    assert "https://example.org/ctx.jsonld" in link
    inline = struct_pb2.Value()
    inline.struct_value.fields["P"].string_value = "https://example.org/P"
    replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, "urn:a:2", P=1)],
                  contexts=[inline])
    call = writes(sim, "/ngsi-ld/v1/entityOperations/upsert", at_least=2)[-1]
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert headers["content-type"].startswith("application/ld+json")
    assert json.loads(call["body"])[0]["@context"] == {"P": "https://example.org/P"}


# --- Mixed batches -----------------------------------------------------------

def test_v2_mixed_batch_gives_each_entity_its_own_result(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT,
                  [v2_entity(ngsi_stubs, "E1", A=1), v2_entity(ngsi_stubs, "E2", A=1)])
    sim.admin("DELETE", "/__sim/requests")
    batch = [v2_entity(ngsi_stubs, "E1", A=2),            # fine
             v2_entity(ngsi_stubs, "Missing", A=1),       # entity not there
             v2_entity(ngsi_stubs, "Bad(id)", A=1),       # forbidden char in id
             v2_entity(ngsi_stubs, "E2", A=3, C=1),       # C does not exist
             v2_entity(ngsi_stubs, "E3", A="<script>")]   # forbidden char in value
    response = replier.write("orion", pb.OPERATION_UPDATE, batch)
    assert codes(response) == [OK, NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION,
                               INVALID_ARGUMENT]
    assert "forbidden character '('" in response.results[2].message
    assert response.results[2].http_status == 0  # never sent
    assert list(response.results[3].failed_attrs) == ["C"]
    assert (response.succeeded, response.failed) == (1, 4)
    # One broker call: the bad entities were held back, the answer parsed.
    assert response.broker_calls == 1 and len(writes(sim, "/v2/op/update")) == 1
    assert v2_get(sim, "E1")[1]["A"]["value"] == 2
    assert v2_get(sim, "E2")[1]["A"]["value"] == 3


def test_batch_rejected_whole_with_400_is_halved_and_resent(replier, sim, pb, ngsi_stubs):
    # A 400 means the broker wrote nothing, so halving the batch to find the
    # entity it disliked is safe even for a non-idempotent create.
    sim.add_fault({"status": 400, "count": 1, "path_prefix": "/v2/op/update"})
    entities = [v2_entity(ngsi_stubs, f"S{i}", A=i) for i in range(8)]
    response = replier.write("orion", pb.OPERATION_CREATE, entities)
    assert codes(response) == [OK] * 8
    assert response.broker_calls == 3  # the whole batch, then two halves
    calls = writes(sim, "/v2/op/update", at_least=3)
    assert [c["status"] for c in calls] == [400, 204, 204]
    assert [len(json.loads(c["body"])["entities"]) for c in calls[1:]] == [4, 4]
    assert v2_count(sim) == 8


def test_ld_mixed_batch_reads_multi_status(replier, sim, pb, ngsi_stubs):
    replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, "urn:x:1", P=1)])
    response = replier.write("ld", pb.OPERATION_DELETE,
                             [ld_entity(ngsi_stubs, "urn:x:1"), ld_entity(ngsi_stubs, "notauri"),
                              ld_entity(ngsi_stubs, "urn:x:2")])
    assert codes(response) == [OK, INVALID_ARGUMENT, NOT_FOUND]
    assert response.results[2].http_status == 404
    assert response.results[2].broker_error


# --- Splitting ---------------------------------------------------------------

@pytest.mark.parametrize("flavor,cap", [("orion", 1000), ("ld", 100)])
def test_ten_thousand_entities_split_under_limits_and_fully_applied(
        replier, sim, pb, ngsi_stubs, flavor, cap):
    make = v2_entity if flavor == "orion" else ld_entity
    prefix = "" if flavor == "orion" else "urn:ngsi-ld:Big:"
    entities = [make(ngsi_stubs, f"{prefix}B{i}", "Big", n=i, pad="x" * 120)
                for i in range(10000)]
    started = time.monotonic()
    response = replier.write(flavor, pb.OPERATION_UPSERT, entities, timeout=120)
    elapsed = time.monotonic() - started
    assert response.succeeded == 10000 and response.failed == 0
    path = "/v2/op/update" if flavor == "orion" else "/ngsi-ld/v1/entityOperations/upsert"
    calls = writes(sim, path, at_least=response.broker_calls)
    sent = []
    for call in calls:
        assert len(call["body"].encode()) < 1 << 20
        body = json.loads(call["body"])
        batch = body["entities"] if flavor == "orion" else body
        assert len(batch) <= cap
        sent += [e["id"] for e in batch]
    # All, each once (batches of distinct entities may be sent concurrently).
    assert len(sent) == len(set(sent)) and set(sent) == {e.id for e in entities}
    assert response.broker_calls == len(calls)
    if flavor == "orion":
        assert v2_count(sim) == 10000
    print(f"\n{flavor}: 10000 entities in {len(calls)} calls, {elapsed:.2f}s "
          f"({10000 / elapsed:.0f} entities/s)")


def test_small_max_bytes_splits_by_size(ngsi_stubs, sim, pb):
    with Replier(ngsi_stubs, f"--broker=tiny={sim.url},max_bytes=2000") as small:
        entities = [v2_entity(ngsi_stubs, f"M{i}", A="y" * 300) for i in range(20)]
        big = v2_entity(ngsi_stubs, "Huge", A="z" * 5000)
        response = small.write("tiny", pb.OPERATION_UPSERT, entities + [big])
        assert codes(response) == [OK] * 20 + [INVALID_ARGUMENT]
        assert "over the broker's limit of 2000" in response.results[20].message
        calls = writes(sim, "/v2/op/update", at_least=response.broker_calls)
        assert len(calls) >= 4 and all(len(c["body"]) < 2000 for c in calls)


# --- Tenancy, correlator, credentials ---------------------------------------

def test_tenant_correlator_and_token_headers_reach_the_broker(replier, sim, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)],
                  service="city", service_path="/madrid", correlator="corr-123")
    headers = {k.lower(): v for k, v in writes(sim, "/v2/op/update")[-1]["headers"].items()}
    assert headers["fiware-service"] == "city"
    assert headers["fiware-servicepath"] == "/madrid"
    assert headers["fiware-correlator"] == "corr-123"
    assert v2_get(sim, "E", **{"Fiware-Service": "city",
                               "Fiware-ServicePath": "/madrid"})[0] == 200
    replier.write("secure", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "S", A=1)])
    headers = {k.lower(): v for k, v in writes(sim, "/v2/op/update", 2)[-1]["headers"].items()}
    assert headers["x-auth-token"] == "s3cret-token"
    assert headers["fiware-service"] == "acme"  # the broker's default tenant
    assert headers["fiware-correlator"]  # generated when the request has none
    replier.write("ld", pb.OPERATION_UPSERT, [ld_entity(ngsi_stubs, "urn:t:1", P=1)],
                  service="tenant1")
    headers = {k.lower(): v for k, v in writes(sim, "/ngsi-ld")[-1]["headers"].items()}
    assert headers["ngsild-tenant"] == "tenant1" and "fiware-service" not in headers


def test_list_brokers_never_shows_credentials(replier, pb):
    response = replier.stub.ListBrokers(pb.ListBrokersRequest(), timeout=5)
    names = {b.name: b for b in response.brokers}
    assert set(names) == {"orion", "ld", "secure"}
    assert names["ld"].flavor == 2
    assert "s3cret" not in str(response)
    assert all("s3cret" not in line for line in replier.service.stderr_lines())


# --- Unconfigured brokers and passthrough -----------------------------------

def test_unconfigured_broker_is_not_found_overall_and_per_entity(replier, pb, ngsi_stubs):
    with pytest.raises(grpc.RpcError) as error:
        replier.write("http://evil.example", pb.OPERATION_UPSERT,
                      [v2_entity(ngsi_stubs, "E", A=1)])
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "not configured" in error.value.details()
    requests = iter([pb.WriteRequest(broker="nope", operation=pb.OPERATION_UPSERT,
                                     request_id="r1",
                                     entities=[v2_entity(ngsi_stubs, "E", A=1)])])
    [response] = list(replier.stub.WriteStream(requests, timeout=10))
    assert response.request_id == "r1" and codes(response) == [NOT_FOUND]


def test_missing_operation_is_invalid_argument(replier, pb, ngsi_stubs):
    with pytest.raises(grpc.RpcError) as error:
        replier.write("orion", pb.OPERATION_UNSPECIFIED, [v2_entity(ngsi_stubs, "E")])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("path", [
    "http://evil.example/v2/entities", "//evil.example/v2", "/v2/../__sim/reset",
    "/v2/%2e%2e/__sim/reset", "v2/entities", "/v2/entities?x=1", "/v2/a\\b",
    "/v2/entities@evil", "/v2/%2F..%2F"])
def test_passthrough_rejects_paths_that_could_leave_the_broker(replier, pb, path):
    with pytest.raises(grpc.RpcError) as error:
        replier.stub.Passthrough(pb.PassthroughRequest(broker="orion", method="GET",
                                                       path=path), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_passthrough_calls_the_configured_broker(replier, sim, pb):
    created = replier.stub.Passthrough(pb.PassthroughRequest(
        broker="orion", method="POST", path="/v2/entities",
        headers={"Content-Type": "application/json", "Fiware-Service": "pt"},
        body=json.dumps({"id": "P1", "type": "T", "A": {"value": 1}})), timeout=10)
    assert created.status == 201
    got = replier.stub.Passthrough(pb.PassthroughRequest(
        broker="orion", method="GET", path="/v2/entities/P1", query="options=keyValues",
        headers={"Fiware-Service": "pt"}), timeout=10)
    assert got.status == 200 and json.loads(got.body)["A"] == 1
    with pytest.raises(grpc.RpcError) as error:
        replier.stub.Passthrough(pb.PassthroughRequest(broker="other", method="GET",
                                                       path="/v2/entities"), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as error:
        replier.stub.Passthrough(pb.PassthroughRequest(broker="orion", method="CONNECT",
                                                       path="/v2/entities"), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# --- Streams -----------------------------------------------------------------

def test_write_stream_answers_every_request_in_order_with_its_id(replier, sim, pb, ngsi_stubs):
    def requests():
        for i in range(40):
            yield pb.WriteRequest(broker="orion", operation=pb.OPERATION_UPSERT,
                                  request_id=f"req-{i}",
                                  entities=[v2_entity(ngsi_stubs, f"S{i}-{k}", A=k)
                                            for k in range(1 + i % 5)])
    responses = list(replier.stub.WriteStream(requests(), timeout=60))
    assert [r.request_id for r in responses] == [f"req-{i}" for i in range(40)]
    assert all(r.failed == 0 and r.succeeded == 1 + i % 5 for i, r in enumerate(responses))
    assert v2_count(sim) == sum(1 + i % 5 for i in range(40))


def test_metrics_count_requests_entities_and_broker_calls(replier, pb, ngsi_stubs):
    replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1),
                                                 v2_entity(ngsi_stubs, "B(ad)", A=1)])
    text = replier.metrics()
    for needle in ('ngsi_replier_requests_total{rpc="Write",code="ok"}',
                   'ngsi_replier_entities_total{broker="orion",outcome="ok"}',
                   'ngsi_replier_entities_total{broker="orion",outcome="invalid_argument"}',
                   'ngsi_replier_broker_calls_total{broker="orion",status="204"}',
                   "ngsi_replier_broker_call_seconds_bucket",
                   "ngsi_replier_broker_calls_in_flight",
                   "ngsi_replier_pool_connections_in_use",
                   "ngsi_replier_request_seconds_count"):
        assert needle in text, needle
