"""gRPC authentication and authorization, end to end: static bearer tokens
and JWTs on the receiver (tenant isolation, per-client stream limits) and the
replier (brokers and tenants a writer is granted; refused writes reach no
broker); no secret in the logs."""
from __future__ import annotations

import json
import threading
import time

import grpc
import pytest

from tests.e2e.broker_stub import BrokerStub
from tests.e2e.receiver_support import send, wait_for
from tests.e2e.security_support import (bearer, claims, jwt_hs256, jwt_rs256, rsa_key_pair,
                                        write_token_file)
from tests.testing.services import RunningService

READER_TOKEN = "reader-token-6f1d2c"
OTHER_TOKEN = "other-tenant-token-99ab"
WRITER_TOKEN = "writer-token-a7c3e1"
HS_SECRET = b"an-hs256-shared-secret-of-more-than-32-bytes"


def notify(service, tenant, entity_id):
    body = json.dumps({"subscriptionId": "s1", "data": [
        {"id": entity_id, "type": "Room",
         "temperature": {"type": "Number", "value": 1, "metadata": {}}}]}).encode()
    status, _, _ = send(service.ports["http_port"], "POST", "/notify",
                        {"Content-Type": "application/json", "Fiware-Service": tenant,
                         "Fiware-ServicePath": "/"}, body)
    assert status == 204


@pytest.fixture
def auth_files(tmp_path):
    tokens = write_token_file(tmp_path / "tokens.json", [
        {"name": "spark-a", "token": READER_TOKEN, "tenants": ["tenant_a"],
         "rights": ["read"]},
        {"name": "spark-b", "token": OTHER_TOKEN, "tenants": ["tenant_b"],
         "rights": ["read"]},
        {"name": "writer", "token": WRITER_TOKEN, "tenants": ["tenant_a"],
         "brokers": ["orion"], "rights": ["write"]},
    ])
    hs_key = tmp_path / "hs.key"
    hs_key.write_bytes(HS_SECRET + b"\n")
    return tokens, hs_key


def subscribe(stubs, port, metadata=None, service="", timeout=3):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = stubs.receiver_pb2_grpc.EventStreamStub(channel)
    request = stubs.receiver_pb2.SubscribeRequest(
        start=stubs.receiver_pb2.SubscribeRequest.EARLIEST,
        filter=stubs.receiver_pb2.EventFilter(service=service))
    return channel, stub.Subscribe(request, metadata=metadata, timeout=timeout)


def collect(call):
    events = []
    try:
        for event in call:
            events.append(event)
    except grpc.RpcError as error:
        return events, error.code(), error.details()
    return events, grpc.StatusCode.OK, ""


def test_receiver_refuses_unauthenticated_wrong_and_expired_tokens(ngsi_stubs, auth_files):
    tokens, hs_key = auth_files
    with RunningService("ngsi-receiver", f"--auth_token_file={tokens}",
                        f"--jwt_key_file={hs_key}", "--jwt_algorithm=HS256") as service:
        notify(service, "tenant_a", "A1")
        port = service.ports["grpc_port"]
        cases = {
            "none": (None, grpc.StatusCode.UNAUTHENTICATED),
            "wrong": (bearer("not-a-token"), grpc.StatusCode.UNAUTHENTICATED),
            "not bearer": ([("authorization", f"Basic {READER_TOKEN}")],
                           grpc.StatusCode.UNAUTHENTICATED),
            "expired": (bearer(jwt_hs256(HS_SECRET, claims("late", ["tenant_a"], ["read"],
                                                            lifetime=-120))),
                        grpc.StatusCode.UNAUTHENTICATED),
            "bad signature": (bearer(jwt_hs256(b"x" * 40, claims("forged", ["*"], ["read"]))),
                              grpc.StatusCode.UNAUTHENTICATED),
            "wrong tenant": (bearer(READER_TOKEN), grpc.StatusCode.PERMISSION_DENIED),
            "writer reads": (bearer(WRITER_TOKEN), grpc.StatusCode.PERMISSION_DENIED),
        }
        details = {}
        for name, (metadata, code) in cases.items():
            service_filter = "tenant_b" if name == "wrong tenant" else ""
            channel, call = subscribe(ngsi_stubs, port, metadata, service_filter)
            events, got, detail = collect(call)
            channel.close()
            assert (got, events) == (code, []), name
            details[name] = detail
        assert "expired" in details["expired"]
        assert "tenant_b" in details["wrong tenant"]
        # Info needs credentials too.
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        with pytest.raises(grpc.RpcError) as info:
            ngsi_stubs.receiver_pb2_grpc.EventStreamStub(channel).Info(
                ngsi_stubs.receiver_pb2.InfoRequest(), timeout=5)
        channel.close()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    log = service.stderr_text()
    for secret in (READER_TOKEN, OTHER_TOKEN, WRITER_TOKEN, HS_SECRET.decode()):
        assert secret not in log


def test_subscriber_sees_only_its_tenants(ngsi_stubs, auth_files, tmp_path):
    tokens, _ = auth_files
    key, public = rsa_key_pair(tmp_path)
    with RunningService("ngsi-receiver", f"--auth_token_file={tokens}",
                        f"--jwt_key_file={public}", "--jwt_algorithm=RS256",
                        "--jwt_issuer=https://keyrock.test",
                        "--jwt_audience=ngsi-bridge") as service:
        for i in range(3):
            notify(service, "tenant_a", f"A{i}")
            notify(service, "tenant_b", f"B{i}")
            notify(service, "", f"D{i}")
        port = service.ports["grpc_port"]
        # A static token granted tenant_a, no service filter: only tenant_a.
        channel, call = subscribe(ngsi_stubs, port, bearer(READER_TOKEN), timeout=2)
        events, code, _ = collect(call)
        channel.close()
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED  # a live stream, cut by us
        assert [e.entities[0].id for e in events] == ["A0", "A1", "A2"]
        # A JWT granted tenant_b: only tenant_b.
        token = jwt_rs256(key, claims("spark-jwt", ["tenant_b"], ["read"],
                                      iss="https://keyrock.test", aud=["ngsi-bridge"]))
        channel, call = subscribe(ngsi_stubs, port, bearer(token), timeout=2)
        events, code, _ = collect(call)
        channel.close()
        assert [e.entities[0].id for e in events] == ["B0", "B1", "B2"]
        # Wrong audience: refused.
        token = jwt_rs256(key, claims("spark-jwt", ["*"], ["read"],
                                      iss="https://keyrock.test", aud="other"))
        channel, call = subscribe(ngsi_stubs, port, bearer(token))
        events, code, _ = collect(call)
        channel.close()
        assert (code, events) == (grpc.StatusCode.UNAUTHENTICATED, [])


def test_stream_limit_per_client(ngsi_stubs, auth_files):
    tokens, _ = auth_files
    with RunningService("ngsi-receiver", f"--auth_token_file={tokens}",
                        "--max_streams_per_client=2") as service:
        port = service.ports["grpc_port"]
        open_calls = []
        for _ in range(2):
            channel, call = subscribe(ngsi_stubs, port, bearer(READER_TOKEN), timeout=30)
            open_calls.append((channel, call))
        notify(service, "tenant_a", "A0")
        for _, call in open_calls:  # both streams are really open
            assert next(call).entities[0].id == "A0"
        channel, call = subscribe(ngsi_stubs, port, bearer(READER_TOKEN))
        events, code, detail = collect(call)
        channel.close()
        assert (code, events) == (grpc.StatusCode.RESOURCE_EXHAUSTED, [])
        # Another principal is not affected.
        channel, call = subscribe(ngsi_stubs, port, bearer(OTHER_TOKEN), timeout=2)
        _, code, _ = collect(call)
        channel.close()
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        # A closed stream frees its slot.
        first_channel, first_call = open_calls.pop()
        first_call.cancel()
        first_channel.close()

        def admitted():
            channel, call = subscribe(ngsi_stubs, port, bearer(READER_TOKEN), timeout=1)
            _, code, _ = collect(call)
            channel.close()
            return code == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_for(admitted)
        for channel, call in open_calls:
            call.cancel()
            channel.close()


def write(stubs, port, metadata, broker="orion", service=""):
    pb = stubs.replier_pb2
    entity = stubs.ngsi_pb2.Entity(id="E1", type="T")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        return stubs.replier_pb2_grpc.ReplierStub(channel).Write(
            pb.WriteRequest(broker=broker, operation=pb.OPERATION_UPSERT,
                            entities=[entity], service=service),
            metadata=metadata, timeout=10)
    finally:
        channel.close()


def test_replier_writes_only_granted_brokers_and_tenants(ngsi_stubs, auth_files):
    tokens, _ = auth_files
    with BrokerStub() as orion, BrokerStub() as other:
        with RunningService("ngsi-replier", f"--auth_token_file={tokens}",
                            f"--broker=orion={orion.url},service=tenant_a",
                            f"--broker=other={other.url}") as replier:
            port = replier.ports["grpc_port"]
            refused = {
                "none": (None, "orion", "", grpc.StatusCode.UNAUTHENTICATED),
                "wrong token": (bearer("nope"), "orion", "", grpc.StatusCode.UNAUTHENTICATED),
                "reader": (bearer(READER_TOKEN), "orion", "", grpc.StatusCode.PERMISSION_DENIED),
                "wrong broker": (bearer(WRITER_TOKEN), "other", "tenant_a",
                                 grpc.StatusCode.PERMISSION_DENIED),
                "wrong tenant": (bearer(WRITER_TOKEN), "orion", "tenant_b",
                                 grpc.StatusCode.PERMISSION_DENIED),
            }
            for name, (metadata, broker, tenant, code) in refused.items():
                with pytest.raises(grpc.RpcError) as error:
                    write(ngsi_stubs, port, metadata, broker, tenant)
                assert error.value.code() == code, name
            assert orion.requests == [] and other.requests == []
            # The broker's default tenant (tenant_a) and the explicit one.
            assert write(ngsi_stubs, port, bearer(WRITER_TOKEN)).succeeded == 1
            assert write(ngsi_stubs, port, bearer(WRITER_TOKEN),
                         service="tenant_a").succeeded == 1
            assert [r["headers"].get("fiware-service") for r in orion.requests] == \
                ["tenant_a", "tenant_a"]
            # A stream stops at the first refused request.
            pb = ngsi_stubs.replier_pb2
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            stub = ngsi_stubs.replier_pb2_grpc.ReplierStub(channel)
            requests = [pb.WriteRequest(broker="other", operation=pb.OPERATION_UPSERT,
                                        entities=[ngsi_stubs.ngsi_pb2.Entity(id="S", type="T")])]
            with pytest.raises(grpc.RpcError) as error:
                list(stub.WriteStream(iter(requests), metadata=bearer(WRITER_TOKEN), timeout=10))
            channel.close()
            assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert other.requests == []
    assert WRITER_TOKEN not in replier.stderr_text()
