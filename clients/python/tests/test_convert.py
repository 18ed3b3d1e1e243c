"""ngsi_bridge.convert and ngsi_bridge.view: dict <-> proto, event-json, plain values."""
import json
import pickle

import pytest

from ngsi_bridge import convert, view
from ngsi_bridge.errors import ConversionError
from ngsi_bridge.v1 import ngsi_pb2

NORMALIZED = {"id": "Room1", "type": "Room",
              "temperature": {"type": "Number", "value": 23.5,
                              "metadata": {"unit": {"type": "Text", "value": "C"}}},
              "tags": {"type": "StructuredValue", "value": {"a": [1, "x", None, True]}},
              "owner": {"type": "Relationship", "object": "urn:Person:1"}}


def test_normalized_dict_round_trips():
    entity = convert.entity_from_dict(NORMALIZED)
    assert entity.attrs["temperature"].type == "Number"
    assert entity.attrs["temperature"].metadata["unit"].value.string_value == "C"
    assert not entity.attrs["temperature"].bare
    assert convert.entity_to_dict(entity) == NORMALIZED


def test_key_values_dict_becomes_bare_attributes_and_renders_back():
    entity = convert.entity_from_dict({"id": "R", "type": "Room", "t": 21, "info": {"x": 1}})
    assert entity.attrs["t"].bare and entity.attrs["t"].value.number_value == 21
    # a dict without attribute members is a structured keyValues value
    assert entity.attrs["info"].bare
    assert convert.entity_to_dict(entity) == {"id": "R", "type": "Room", "t": 21.0, "info": {"x": 1.0}}


def test_forced_formats():
    kv = convert.entity_from_dict({"id": "R", "v": {"value": 1}}, fmt="keyValues")
    assert kv.attrs["v"].bare and convert.from_value(kv.attrs["v"].value) == {"value": 1.0}
    with pytest.raises(ConversionError, match="'v'"):
        convert.entity_from_dict({"id": "R", "v": 3}, fmt="normalized")


def test_ngsi_ld_entity_with_sub_properties_types_and_context():
    ld = {"id": "urn:ngsi-ld:Room:1", "type": ["Room", "Space"], "@context": "https://ctx",
          "temperature": {"type": "Property", "value": 20, "observedAt": "2026-01-01T00:00:00Z",
                          "unitCode": "CEL", "accuracy": {"type": "Property", "value": 0.5}},
          "name": {"type": "LanguageProperty", "languageMap": {"en": "Room"}}}
    entity = convert.entity_from_dict(ld)
    assert list(entity.types) == ["Room", "Space"]
    temp = entity.attrs["temperature"]
    assert temp.observed_at == "2026-01-01T00:00:00Z" and temp.unit_code == "CEL"
    assert temp.metadata["accuracy"].value.number_value == 0.5
    out = convert.entity_to_dict(entity)
    assert out["type"] == ["Room", "Space"] and out["@context"] == "https://ctx"
    assert out["name"] == {"type": "LanguageProperty", "languageMap": {"en": "Room"}}


def test_bad_input_errors_say_what_to_do():
    with pytest.raises(ConversionError, match="no 'id'"):
        convert.entity_from_dict({"type": "Room"})
    with pytest.raises(ConversionError, match="NaN"):
        convert.entity_from_dict({"id": "R", "x": float("nan")})
    with pytest.raises(ConversionError, match="convert it"):
        convert.to_value(object())


def test_to_entities_accepts_single_and_proto():
    proto = ngsi_pb2.Entity(id="P")
    out = convert.to_entities([proto, {"id": "D", "x": 1}])
    assert out[0] is proto and out[1].id == "D"
    assert len(convert.to_entities({"id": "one"})) == 1


def test_event_json_line_parses_and_round_trips():
    line = ('{"sequence":"42","receivedAt":"2026-11-25T10:00:00.123Z","service":"smartcity",'
            '"servicePath":"/madrid","flavor":"NGSI_V2","format":"NORMALIZED","futureField":1,'
            '"entities":[{"id":"Room1","type":"Room","attrs":{"temperature":{"type":"Number",'
            '"value":23.5,"metadata":{"unit":{"type":"Text","value":"C"}}}}}]}')
    event = convert.event_from_json(line)
    assert event.sequence == 42 and event.service_path == "/madrid"
    ev = view(event)
    assert ev.entities[0].attrs["temperature"].value == 23.5
    assert ev.entities[0].attrs["temperature"].metadata["unit"].value == "C"
    assert ev.entities[0].values() == {"temperature": 23.5}
    again = convert.event_from_json(convert.event_to_json(event))
    assert again == event
    with pytest.raises(ConversionError, match="event-json"):
        convert.event_from_json('{"Body": {"data": []}, "sequence": "x"}')


def test_views_pickle_and_fall_through_to_the_message():
    event = convert.event_from_json('{"sequence":"7","entities":[{"id":"E","attrs":{"a":{"value":"s"}}}]}')
    ev = view(event)
    assert ev.service == "" and ev.proto is event
    restored = pickle.loads(pickle.dumps(ev))
    assert restored.entities[0].attrs["a"].value == "s"
    assert restored.entities[0].type is None  # no type was sent
    assert json.loads(json.dumps(restored.to_dict()))["sequence"] == "7"
