"""Every recorded Orion / Orion-LD notification (../shared/orion-fixtures/
notifications) replayed over real HTTP into a running ngsi-receiver, read back
over gRPC EventStream and over socket line listeners (event-json, fpc, body),
and compared field by field with the fixture."""
from __future__ import annotations

import json
import urllib.parse

import pytest
from google.protobuf import json_format

from tests.e2e.receiver_support import (LineReader, fixture_body_bytes, header,
                                        metric, read_events, send_fixture, wait_for)
from tests.testing.services import RunningService, shared_dir

FIXTURE_DIR = shared_dir() / "orion-fixtures" / "notifications"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
HTTP_FIXTURES = [p for p in FIXTURES if json.loads(p.read_text()).get("transport") != "mqtt"]


def _fixture_params():
    for path in FIXTURES:
        fixture = json.loads(path.read_text())
        marks = []
        if fixture.get("transport") == "mqtt":
            marks.append(pytest.mark.skip(
                reason="MQTT transport: the broker publishes to a topic, the receiver "
                       "takes HTTP notifications only"))
        yield pytest.param(path.name, marks=marks, id=path.stem)


FIXTURE_PARAMS = list(_fixture_params())


@pytest.fixture(scope="module")
def replayed(ngsi_stubs):
    """Sends every HTTP fixture once, in file order, to one receiver with three
    line listeners, and collects what comes back everywhere."""
    with RunningService("ngsi-receiver", "--line_listener=0:fpc",
                        "--line_listener=0:body") as service:
        ports = service.ports
        formats = {listener["format"]: listener["port"] for listener in ports["line_listeners"]}
        readers = {name: LineReader(port) for name, port in formats.items()}
        wait_for(lambda: metric(ports["admin_port"], 'ngsi_receiver_consumers{kind="line"}') == 3)
        answers = {}
        for path in HTTP_FIXTURES:
            fixture = json.loads(path.read_text())
            answers[path.name] = send_fixture(ports["http_port"], fixture)
        accepted = [name for name, (status, _, _) in answers.items() if 200 <= status < 300]
        events = read_events(ngsi_stubs, ports["grpc_port"], 0, len(accepted))
        lines = {fmt: [reader.read_line() for _ in accepted] for fmt, reader in readers.items()}
        for reader in readers.values():
            reader.close()
        by_name = {}
        for index, name in enumerate(accepted):
            by_name[name] = {"event": events[index],
                             "lines": {fmt: lines[fmt][index] for fmt in lines}}
        yield {"answers": answers, "by_name": by_name, "stubs": ngsi_stubs}


def expected_service(fixture):
    return header(fixture, "NGSILD-Tenant") or header(fixture, "Fiware-Service") or ""


def expected_subscription_id(fixture):
    body = fixture.get("body")
    if isinstance(body, dict) and isinstance(body.get("subscriptionId"), str):
        return body["subscriptionId"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(fixture["url"]).query)
    return query.get("subscriptionId", [None])[0]


def is_custom(fixture):
    return (header(fixture, "Ngsiv2-AttrsFormat", "") or "").lower() == "custom"


# NGSI-LD entity members that are not attributes.
ENTITY_MEMBERS = {"id", "type", "@context", "scope", "createdAt", "modifiedAt",
                  "deletedAt", "dateCreated", "dateModified"}
# Attribute members and the event's field names (MessageToDict, proto names).
ATTRIBUTE_MEMBERS = {
    "type": "type", "value": "value", "object": "object", "languageMap": "language_map",
    "vocab": "vocab", "json": "json", "observedAt": "observed_at", "unitCode": "unit_code",
    "datasetId": "dataset_id", "previousValue": "previous_value",
    "previousObject": "previous_object", "previousLanguageMap": "previous_language_map",
}
STRING_FIELDS = {"type", "observed_at", "unit_code", "dataset_id"}


def expected_entities(fixture):
    """(entities as dicts of raw JSON attributes, kind) from the fixture body."""
    body = fixture.get("body")
    if isinstance(body, dict) and "contextResponses" in body:  # NGSIv1 legacy
        entities = []
        for response in body["contextResponses"]:
            element = response["contextElement"]
            attrs = {}
            for attribute in element.get("attributes", []):
                raw = {"type": attribute.get("type"), "value": attribute.get("value")}
                if attribute.get("metadatas"):
                    raw["metadata"] = {m["name"]: {"type": m.get("type"), "value": m.get("value")}
                                       for m in attribute["metadatas"]}
                attrs[attribute["name"]] = raw
            entities.append({"id": element.get("id"), "type": element.get("type"), **attrs})
        return entities, "legacy"
    if isinstance(body, dict) and isinstance(body.get("data"), dict):  # GeoJSON
        entities = []
        for feature in body["data"].get("features", []):
            properties = dict(feature.get("properties", {}))
            entities.append({"id": feature.get("id"), "type": properties.pop("type", None),
                             **properties})
        return entities, "geojson"
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        data = body["data"]
        if data and isinstance(data[0], list):
            return data, "values"
        return data, "entities"
    if isinstance(body, dict) and "id" in body:  # simplified: the bare entity
        return [body], "entities"
    return [], "none"


def check_attribute(name, raw, attr):
    if attr.get("bare"):
        assert attr.get("value") == raw, name
        return
    if isinstance(raw, list) and attr.get("instances"):
        assert len(attr["instances"]) == len(raw), name
        for instance_raw, instance in zip(raw, attr["instances"]):
            check_attribute(name, instance_raw, instance)
        return
    if not isinstance(raw, dict):
        assert attr.get("value") == raw, name
        return
    for member, field in ATTRIBUTE_MEMBERS.items():
        if member in raw:
            default = "" if field in STRING_FIELDS else None
            assert attr.get(field, default) == raw[member], f"{name}.{member}"
    metadata = attr.get("metadata", {})
    for key, sub in (raw.get("metadata") or {}).items():
        assert key in metadata, f"{name}.metadata.{key}"
        check_attribute(f"{name}.{key}", sub, metadata[key])
    for key, sub in raw.items():  # NGSI-LD sub-properties / sub-relationships
        if key in ATTRIBUTE_MEMBERS or key == "metadata" or not isinstance(sub, dict):
            continue
        if "type" in sub and key in metadata:
            check_attribute(f"{name}.{key}", sub, metadata[key])


def check_event(fixture, event_dict):
    if is_custom(fixture):
        assert event_dict.get("format") == "CUSTOM"
        sent = fixture_body_bytes(fixture).decode("utf-8")
        assert event_dict.get("body", "") == sent
        assert not event_dict.get("entities")
    else:
        expected_sub = expected_subscription_id(fixture)
        if expected_sub is not None:
            assert event_dict.get("subscription_id", "") == expected_sub
        entities, kind = expected_entities(fixture)
        got = event_dict.get("entities", [])
        assert len(got) == len(entities)
        for raw, entity in zip(entities, got):
            if kind == "values":
                assert entity.get("values") == raw
                assert "id" not in entity and "type" not in entity
                continue
            assert entity.get("id") == raw.get("id")
            raw_type = raw.get("type")
            if isinstance(raw_type, list):
                assert entity.get("types") == raw_type
            elif raw_type is not None:
                assert entity.get("type") == raw_type
            attrs = entity.get("attrs", {})
            for name, value in raw.items():
                if name in ENTITY_MEMBERS:
                    continue
                assert name in attrs, f"attribute {name} missing"
                check_attribute(name, value, attrs[name])
    assert event_dict.get("service", "") == expected_service(fixture)
    if header(fixture, "Fiware-ServicePath") is not None:
        assert event_dict.get("service_path", "") == header(fixture, "Fiware-ServicePath")
    assert event_dict.get("correlator", "") == (header(fixture, "Fiware-Correlator") or "")


def event_as_dict(event):
    return json_format.MessageToDict(event, preserving_proto_field_name=True)


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_fixture_is_accepted_with_a_2xx_answer(replayed, name):
    status, headers, _ = replayed["answers"][name]
    assert 200 <= status < 300
    assert status == 204 or "content-length" in headers


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_fixture_reads_back_over_grpc_field_by_field(replayed, name):
    fixture = json.loads((FIXTURE_DIR / name).read_text())
    event = replayed["by_name"][name]["event"]
    assert event.sequence > 0 and event.received_at.seconds > 0
    check_event(fixture, event_as_dict(event))


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_event_json_line_is_the_same_event_as_grpc(replayed, name):
    stubs = replayed["stubs"]
    entry = replayed["by_name"][name]
    from_line = json_format.Parse(entry["lines"]["event-json"], stubs.ngsi_pb2.NgsiEvent())
    assert from_line == entry["event"]


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_body_line_is_the_notification_body_on_one_line(replayed, name):
    fixture = json.loads((FIXTURE_DIR / name).read_text())
    line = replayed["by_name"][name]["lines"]["body"]
    sent = fixture_body_bytes(fixture).decode("utf-8")
    if "\n" in sent or "\r" in sent:
        try:
            assert json.loads(line) == json.loads(sent)
        except json.JSONDecodeError:
            assert line == sent.replace("\r", " ").replace("\n", " ")
    else:
        assert line == sent


def test_sequences_are_one_per_notification_in_order(replayed):
    sequences = [entry["event"].sequence for entry in replayed["by_name"].values()]
    assert sequences == list(range(1, len(sequences) + 1))
