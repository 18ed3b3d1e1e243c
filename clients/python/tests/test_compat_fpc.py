"""ngsi_bridge.compat.fpc has the old fpc.connector API shape and behaviour."""
import inspect
import json

import pytest

from ngsi_bridge.compat import fpc as compat

old = pytest.importorskip("fpc.connector", reason="fiware-pyspark-connector is not installed "
                          "(scripts/install-deps installs it with --no-deps)")
old_conf = pytest.importorskip("fpc.connectorconf")

FUNCTIONS = ["parse_context", "parse_entities", "parse", "StartConnector", "Prime", "listify",
             "replaceJSON", "sendRequest", "ReplyToBroker", "SemistructuredReplyToBroker",
             "UnstructuredReplyToBroker"]
CLASSES = ["NGSIAttribute", "NGSIEntityv2", "NGSIEntityLD", "NGSIEventv2", "NGSIEventLD",
           "ReceiverConfiguration", "ReplierConfiguration"]

FPC_LINE = json.dumps({
    "timestamp": "2026-11-25T10:00:00.120Z", "Host": "127.0.0.1:8061",
    "Fiware-Service": "opcua_car", "Fiware-Servicepath": "/demo",
    "Body": {"subscriptionId": "s1", "data": [
        {"id": "Car1", "type": "Car",
         "speed": {"type": "Number", "value": 88, "metadata": {"unit": {"type": "Text", "value": "kmh"}}},
         "driver": {"type": "Relationship", "object": "urn:Person:1", "metadata": {}}}]}})
LD_LINE = json.dumps({"timestamp": "t", "Link": "<https://ctx>; rel=ctx",
                      "Body": {"data": [{"id": "urn:E:1", "type": "E",
                                         "p": {"type": "Property", "value": 1}}]}})


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_have_the_old_signatures(name):
    assert [p for p in inspect.signature(getattr(compat, name)).parameters] == \
        [p for p in inspect.signature(getattr(old, name)).parameters]


@pytest.mark.parametrize("name", CLASSES)
def test_classes_have_the_old_constructors(name):
    assert list(inspect.signature(getattr(compat, name).__init__).parameters) == \
        list(inspect.signature(getattr(old, name).__init__).parameters)


def test_singletons_keep_every_old_setting_and_default():
    for mine, theirs in ((compat.RECV_SINGLETON, old_conf.RECV_SINGLETON),
                         (compat.REPL_SINGLETON, old_conf.REPL_SINGLETON)):
        for key, value in vars(theirs).items():
            assert hasattr(mine, key), key
            if key != "http_address":  # the host's own address, computed
                assert getattr(mine, key) == value, key
    assert compat.ReceiverConfiguration() is compat.RECV_SINGLETON  # still singletons


def _shape(event):
    return (type(event).__name__, event.creationtime, event.service, event.servicePath,
            [(type(e).__name__, e.id, e.type, getattr(e, "context", None),
              {k: (a.type, a.value, a.metadata) for k, a in e.attrs.items()}) for e in event.entities])


@pytest.mark.parametrize("line", [FPC_LINE, LD_LINE])
def test_parse_of_fpc_lines_matches_the_old_connector(line):
    assert _shape(compat.parse(line)) == _shape(old.parse(line))


def test_parse_reads_event_json_lines_like_the_equivalent_fpc_line():
    event_json = json.dumps({
        "sequence": "3", "notifiedAt": "2026-11-25T10:00:00.120Z", "service": "opcua_car",
        "servicePath": "/demo", "flavor": "NGSI_V2", "format": "NORMALIZED",
        "entities": [{"id": "Car1", "type": "Car", "attrs": {
            "speed": {"type": "Number", "value": 88, "metadata": {"unit": {"type": "Text", "value": "kmh"}}},
            "driver": {"type": "Relationship", "object": "urn:Person:1"}}}]})
    mine = _shape(compat.parse(event_json))
    theirs = _shape(old.parse(FPC_LINE))
    assert mine[:4] == theirs[:4]
    assert mine[4][0][4]["speed"] == (theirs[4][0][4]["speed"][0], 88.0, theirs[4][0][4]["speed"][2])
    assert mine[4][0][4]["driver"] == ("Relationship", "urn:Person:1", {})


def test_parse_reads_body_only_lines():
    event = compat.parse(json.dumps({"data": [{"id": "E", "type": "T", "a": {"type": "Text", "value": "x"}}]}))
    assert event.entities[0].attrs["a"].value == "x"


def test_replies_go_through_the_replier_passthrough(fake_replier, tmp_path, monkeypatch):
    monkeypatch.setattr(compat.REPL_SINGLETON, "replier_address", fake_replier.address)
    blueprint = tmp_path / "bp.json"
    blueprint.write_text('{"speed": {"value": %%TOREPLACE%%},\n "ok": %%TOREPLACE%%}')
    monkeypatch.setattr(compat.REPL_SINGLETON, "blueprint_file", str(blueprint))
    url = "http://127.0.0.1:1026/v2/entities/Car1/attrs?options=forcedUpdate"
    assert compat.ReplyToBroker([42, "true"], url, "PATCH") == "ok PATCH /v2/entities/Car1/attrs"
    assert compat.SemistructuredReplyToBroker(7, '{"v": %%TOREPLACE%%}', url, "POST").startswith("ok POST")
    assert compat.UnstructuredReplyToBroker("{}", url, "PUT").startswith("ok PUT")
    sent = fake_replier.servicer.passthroughs
    assert sent[0].body == '{"speed": {"value": 42},  "ok": true}'
    assert sent[0].query == "options=forcedUpdate" and sent[0].broker == "orion"
    assert sent[0].headers["Fiware-Service"] == "opcua_car"
    assert sent[1].body == '{"v": 7}'
    # as before: a bad method comes back as the exception, not raised
    assert isinstance(compat.UnstructuredReplyToBroker("{}", url, "GET"), ValueError)


def test_start_connector_says_how_to_fix_a_missing_receiver(monkeypatch):
    monkeypatch.setattr(compat.RECV_SINGLETON, "socket_address", "127.0.0.1")
    monkeypatch.setattr(compat.RECV_SINGLETON, "socket_port", 1)
    with pytest.raises(ConnectionError, match="start ngsi-receiver"):
        compat.StartConnector()


def test_configuration_from_environment(monkeypatch):
    monkeypatch.setenv("NGSI_BRIDGE_FPC_SOCKET_PORT", "12345")
    monkeypatch.setenv("NGSI_BRIDGE_REPLIER", "replier:1")
    conf = compat.ReceiverConfiguration()  # __init__ re-reads, as the old singleton did
    repl = compat.ReplierConfiguration()
    try:
        assert conf.socket_port == 12345 and repl.replier_address == "replier:1"
    finally:
        monkeypatch.delenv("NGSI_BRIDGE_FPC_SOCKET_PORT")
        monkeypatch.delenv("NGSI_BRIDGE_REPLIER")
        compat.ReceiverConfiguration()
        compat.ReplierConfiguration()
