"""Tenancy (Fiware-Service, Fiware-ServicePath, NGSILD-Tenant) keeps stores
apart; entity queries filter like Orion and Orion-LD."""
import json
import time

V2 = "/v2/entities"
LD = "/ngsi-ld/v1/entities"


def _ids(answer):
    return sorted(e["id"] for e in json.loads(answer[2]))


def test_v2_tenants_do_not_see_each_others_entities(sim, call):
    call("POST", V2, {"id": "E1", "type": "T"}, {"Fiware-Service": "a"})
    call("POST", V2, {"id": "E2", "type": "T"}, {"Fiware-Service": "b"})
    assert _ids(call("GET", V2, headers={"Fiware-Service": "a"})) == ["E1"]
    assert _ids(call("GET", V2, headers={"Fiware-Service": "b"})) == ["E2"]
    assert _ids(call("GET", V2)) == []


def test_v2_tenant_name_is_case_insensitive(sim, call):
    call("POST", V2, {"id": "E1", "type": "T"}, {"Fiware-Service": "Smart"})
    assert _ids(call("GET", V2, headers={"Fiware-Service": "smart"})) == ["E1"]


def test_v2_service_path_query_is_hierarchical_with_hash(sim, call):
    for path, entity_id in (("/a", "E1"), ("/a/b", "E2"), ("/c", "E3")):
        call("POST", V2, {"id": entity_id, "type": "T"},
             {"Fiware-ServicePath": path})
    assert _ids(call("GET", V2, headers={"Fiware-ServicePath": "/a"})) == \
        ["E1"]
    assert _ids(call("GET", V2, headers={"Fiware-ServicePath": "/a/#"})) == \
        ["E1", "E2"]
    assert _ids(call("GET", V2)) == ["E1", "E2", "E3"]


def test_ld_tenant_from_ngsild_tenant_or_fiware_service(sim, call):
    entity = {"id": "urn:E1", "type": "T"}
    call("POST", LD, entity, {"NGSILD-Tenant": "t1"})
    assert _ids(call("GET", LD, headers={"Fiware-Service": "T1"},
                     query="type=T")) == ["urn:E1"]
    assert _ids(call("GET", LD, query="type=T")) == []


def test_v2_and_ld_stores_are_separate(sim, call):
    call("POST", V2, {"id": "urn:E1", "type": "T"})
    assert _ids(call("GET", LD, query="type=T")) == []


def _seed_v2(call):
    for index in range(5):
        call("POST", V2, {"id": f"Room{index}", "type": "Room",
                          "temp": {"value": 20 + index},
                          "name": {"value": f"r{index}"}})
    call("POST", V2, {"id": "Car1", "type": "Car", "speed": {"value": 3}})


def test_v2_query_by_type_id_pattern_and_q_equality(sim, call):
    _seed_v2(call)
    assert _ids(call("GET", V2, query="type=Car")) == ["Car1"]
    assert _ids(call("GET", V2, query="idPattern=Room[12]")) == \
        ["Room1", "Room2"]
    assert _ids(call("GET", V2, query="q=temp==22")) == ["Room2"]
    assert _ids(call("GET", V2, query="q=temp>=23;name!=r4")) == ["Room3"]
    assert _ids(call("GET", V2, query="q=temp==20..21")) == ["Room0", "Room1"]
    assert _ids(call("GET", V2, query="q=speed")) == ["Car1"]


def test_v2_query_attrs_limit_offset_count_and_keyvalues(sim, call):
    _seed_v2(call)
    status, headers, body = call(
        "GET", V2, query="type=Room&attrs=temp&limit=2&offset=1"
                         "&options=count,keyValues")
    assert status == 200
    assert headers["fiware-total-count"] == "5"
    assert json.loads(body) == [{"id": "Room1", "type": "Room", "temp": 21},
                                {"id": "Room2", "type": "Room", "temp": 22}]


def test_v2_query_by_date_modified_finds_recent_changes(sim, call):
    call("POST", V2, {"id": "Old", "type": "T", "A": {"value": 1}})
    time.sleep(0.05)
    entities = json.loads(call("GET", V2,
                               query="options=dateModified")[2])
    cutoff = entities[0]["dateModified"]["value"]
    time.sleep(0.05)
    call("POST", V2, {"id": "New", "type": "T", "A": {"value": 1}})
    assert _ids(call("GET", V2, query=f"q=dateModified>{cutoff}")) == ["New"]
    assert _ids(call("GET", V2, query=f"q=dateModified<={cutoff}")) == ["Old"]


def test_ld_query_by_q_and_modified_at(sim, call):
    call("POST", LD, {"id": "urn:A", "type": "T",
                      "P": {"type": "Property", "value": 1}})
    time.sleep(0.05)
    cutoff = json.loads(call("GET", LD, query="type=T&options=sysAttrs")[2])[
        0]["modifiedAt"]
    time.sleep(0.05)
    call("POST", LD, {"id": "urn:B", "type": "T",
                      "P": {"type": "Property", "value": 2}})
    assert _ids(call("GET", LD, query="type=T&q=P==2")) == ["urn:B"]
    assert _ids(call("GET", LD, query=f'q=modifiedAt>"{cutoff}"')) == \
        ["urn:B"]
    status, headers, body = call("GET", LD, query="type=T&count=true&limit=1"
                                                  "&options=keyValues")
    assert headers["ngsild-results-count"] == "2"
    assert json.loads(body) == [{"id": "urn:A", "type": "T", "P": 1}]
