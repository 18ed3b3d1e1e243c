"""For every orion-fixtures/notifications case the simulator can reproduce:
create the fixture's subscription, send its trigger, capture what the
simulator notifies, and compare method, path and query, headers and body
with the recording (modulo the values the fixture marks as patterns)."""
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.testing.broker_sim.fixture_files import fixture_files

FILES = fixture_files("notifications")
IGNORED_HEADERS = {"host", "content-length", "user-agent", "date"}

# Steps the recording test made but the fixture does not keep, rebuilt from
# what the fixture shows (previousValue metadata, the notified entity):
# `before` runs before the subscription is created, `trigger` replaces a
# missing trigger_request.
_ENTITY_E01 = {"id": "urn:ngsi-ld:E01", "type": "T",
               "P1": {"type": "Property", "value": 1,
                      "Sub-R1": {"type": "Relationship", "object": "urn:E1"}},
               "P2": {"type": "Property", "value": "ok"}}
DERIVED = {
    "v2-28-servicepath-builtin-and-header": {"before": [
        ("POST", "/v2/entities", {"Fiware-ServicePath": "/Madrid/A"},
         {"id": "E1", "type": "Thing", "A1": {"value": 0, "type": "Float"},
          "B1": {"value": 720, "type": "Integer"}})]},
    "v2-33-previousValue-actionType": {"before": [
        ("POST", "/v2/entities", {}, {"id": "E1", "type": "T",
                                      "A": {"value": 1}, "B": {"value": 2},
                                      "C": {"value": 3}})]},
    "v2-36-alterationType-entityDelete": {"before": [
        ("POST", "/v2/entities", {}, {"id": "E", "type": "T",
                                      "A": {"value": 2}})]},
    "v2-37-alterationType-entityDelete-onlyChangedAttrs": {"before": [
        ("POST", "/v2/entities", {}, {"id": "E", "type": "T",
                                      "A": {"value": 1}})]},
    "v2-38-alterationType-entityCreate": {"trigger": (
        "POST", "/v2/entities", {}, {"id": "E", "type": "T",
                                     "A": {"value": 1}})},
    "ld-14-sysAttrs": {"before": [
        ("POST", "/ngsi-ld/v1/entities", {}, {"id": "urn:E1", "type": "T",
                                              "P1": {"type": "Property",
                                                     "value": 1}})]},
    "ld-02-concise-ldjson-inline-context": {"trigger": (
        "POST", "/ngsi-ld/v1/entities", {}, _ENTITY_E01)},
    "ld-03-keyValues-ldjson": {"trigger": (
        "POST", "/ngsi-ld/v1/entities", {}, _ENTITY_E01)},
}
NOT_SIMULATED = {
    "v2-06-legacy-ngsiv1": "attrsFormat legacy (NGSIv1) was removed in "
                           "Orion 4.0; the simulator models Orion 4.7",
    "v2-26-jexl-transformation": "JEXL expressions (${A|lowercase}) are not "
                                 "simulated",
}


def _skip_reason(name, case):
    if case.get("transport") != "http":
        return f"{case.get('transport')} delivery is not simulated"
    if "legacy" in case.get("orionld_notifier", ""):
        return "Orion-LD's legacy (non -experimental) notifier is not simulated"
    if name in NOT_SIMULATED:
        return NOT_SIMULATED[name]
    sub = case.get("subscription_request") or {}
    if not sub.get("path", "").endswith("/subscriptions"):
        return ("the fixture keeps no subscription request, so the "
                "notification cannot be reproduced without guessing it")
    if not case.get("trigger_request") and "trigger" not in \
            DERIVED.get(name, {}):
        return "the fixture keeps no trigger request"
    return None


def _pattern(text, placeholders):
    """A regex for `text` where the fixture's placeholder values become
    their recorded patterns."""
    regex = re.escape(text)
    for item in placeholders:
        value = re.escape(item["value"])
        if value in regex:
            regex = regex.replace(value, item["placeholder"][6:-1])
    return regex


def _matches(expected, actual, placeholders):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and set(expected) == set(actual) and \
            all(_matches(v, actual[k], placeholders)
                for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and \
            all(_matches(e, a, placeholders) for e, a in zip(expected, actual))
    if isinstance(expected, str) and isinstance(actual, str):
        return re.fullmatch(_pattern(expected, placeholders), actual) \
            is not None
    return expected == actual and type(expected) is type(actual)


def _placeholders(case, where):
    return [p for p in case["regex_placeholders_replaced"]
            if p["where"].lower() == where.lower()]


def _with_receiver(body, receiver_url):
    text = json.dumps(body)
    for recorded in ("http://localhost:9997", "http://127.0.0.1:9997"):
        text = text.replace(recorded, receiver_url)
    return json.loads(text)


def _check_headers(case, received):
    actual = {k.lower(): v for k, v in received["headers"]}
    expected = {k.lower(): v for k, v in case["headers"].items()
                if k.lower() not in IGNORED_HEADERS}
    extra = set(actual) - set(expected) - IGNORED_HEADERS
    assert not extra, f"headers Orion does not send: {extra}"
    for name, value in expected.items():
        assert name in actual, f"missing header {name}"
        assert re.fullmatch(_pattern(value, _placeholders(case, name)),
                            actual[name]), (name, actual[name])


def _check_body(case, raw):
    body_placeholders = _placeholders(case, "body")
    if case["body"] is None:
        assert raw == b""
        return
    if isinstance(case["body"], str):
        expected = case.get("body_raw") or case["body"]
        assert re.fullmatch(_pattern(expected, body_placeholders),
                            raw.decode("utf-8"))
        return
    assert _matches(case["body"], json.loads(raw), body_placeholders), raw
    if case.get("body_raw") and not case["harness"].get(
            "accumulator_pretty_print"):
        # The wire bytes are known: key order and number encoding count.
        assert re.fullmatch(_pattern(case["body_raw"], body_placeholders),
                            raw.decode("utf-8")), raw


def _check_target(case, received):
    expected = urlsplit(case["url"])
    actual = urlsplit(received["path"])
    assert actual.path == expected.path
    assert sorted(parse_qsl(actual.query)) == sorted(parse_qsl(expected.query))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_notification_matches_orion_fixture(path, sim, call, receiver):
    case = json.loads(path.read_text(encoding="utf-8"))
    derived = DERIVED.get(path.stem, {})
    reason = _skip_reason(path.stem, case)
    if reason:
        pytest.skip(reason)
    for method, target, headers, body in derived.get("before", []):
        assert call(method, target, body, headers)[0] < 300
    sub = case["subscription_request"]
    status, _, answer = call(sub["method"], sub["path"],
                             _with_receiver(sub["body"], receiver.url),
                             sub["headers"], sub["query"])
    assert status == 201, answer
    trigger = case.get("trigger_request")
    if trigger:
        trigger = (trigger["method"], trigger["path"] + (
            "?" + trigger["query"] if trigger["query"] else ""),
            trigger["headers"], trigger["body"])
    method, target, headers, body = trigger or derived["trigger"]
    status, _, answer = call(method, target, body, headers)
    assert status < 300, answer
    sim.flush()
    received = receiver.wait_for(1)
    assert len(received) == 1, received
    assert received[0]["method"] == case["method"]
    _check_target(case, received[0])
    _check_headers(case, received[0])
    _check_body(case, received[0]["body"])
