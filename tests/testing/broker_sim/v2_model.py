"""NGSIv2 entities: reading request payloads (normalized or keyValues) into
stored attributes, and writing stored entities out in Orion's formats."""
from tests.testing.broker_sim.encoding import iso_ms, parse_iso
from tests.testing.broker_sim.errors import bad_request
from tests.testing.broker_sim.queries import MISSING
from tests.testing.broker_sim.store import Entity
from tests.testing.broker_sim.validation import (check_v2_identifier,
                                                 has_forbidden_chars)

DEFAULT_TYPE = "Thing"  # what Orion gives an entity created without type
BUILTIN_ATTRS = ("dateCreated", "dateModified", "servicePath",
                 "alterationType")


def infer_type(value):
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "Text"
    if value is None:
        return "None"
    return "StructuredValue"


def parse_attr(name, raw, key_values):
    """One request attribute as stored: {"type", "value", "metadata"}."""
    check_v2_identifier(name, "attribute name")
    if key_values:
        raw = {"value": raw}
    elif not isinstance(raw, dict):
        raise bad_request("attribute must be a JSON object, unless "
                          "keyValues option is used")
    value = raw.get("value")
    attr_type = raw.get("type", infer_type(value))
    check_v2_identifier(attr_type, "attribute type")
    if attr_type != "TextUnrestricted" and has_forbidden_chars(value):
        raise bad_request("Invalid characters in attribute value")
    if attr_type == "DateTime" and parse_iso(value) is not None:
        value = iso_ms(parse_iso(value))  # Orion normalises dates
    return {"type": attr_type, "value": value,
            "metadata": parse_metadata(raw.get("metadata", {}))}


def parse_metadata(raw):
    if not isinstance(raw, dict):
        raise bad_request("metadata must be a JSON object")
    metadata = {}
    for name, item in raw.items():
        check_v2_identifier(name, "metadata name")
        item = item if isinstance(item, dict) else {"value": item}
        value = item.get("value")
        md_type = item.get("type", infer_type(value))
        check_v2_identifier(md_type, "metadata type")
        if has_forbidden_chars(value):
            raise bad_request("Invalid characters in metadata value")
        metadata[name] = {"type": md_type, "value": value}
    return metadata


def parse_attrs(raw, key_values):
    if not isinstance(raw, dict):
        raise bad_request("attributes must be a JSON object")
    return {name: parse_attr(name, item, key_values)
            for name, item in raw.items()}


def parse_entity(raw, key_values, service_path, now, default_type=True):
    """An entity payload as (id, type, attrs). `type` is DEFAULT_TYPE when
    absent and `default_type`, else None."""
    if not isinstance(raw, dict):
        raise bad_request("entity must be a JSON object")
    entity_id = raw.get("id", "")
    check_v2_identifier(entity_id, "entity id")
    entity_type = raw.get("type")
    if entity_type is None:
        entity_type = DEFAULT_TYPE if default_type else None
    else:
        check_v2_identifier(entity_type, "entity type")
    rest = {k: v for k, v in raw.items() if k not in ("id", "type")}
    return entity_id, entity_type, parse_attrs(rest, key_values)


def new_entity(entity_id, entity_type, service_path, attrs, now):
    entity = Entity(entity_id, entity_type or DEFAULT_TYPE, service_path,
                    created=now)
    for name, attr in attrs.items():
        entity.set_attr(name, attr, now)
    return entity


def builtin_attr(entity, name, alteration_type=None):
    if name == "dateCreated":
        return {"type": "DateTime", "value": iso_ms(entity.created),
                "metadata": {}}
    if name == "dateModified":
        return {"type": "DateTime", "value": iso_ms(entity.modified),
                "metadata": {}}
    if name == "servicePath":
        return {"type": "Text", "value": entity.service_path, "metadata": {}}
    if name == "alterationType" and alteration_type:
        return {"type": "Text", "value": alteration_type, "metadata": {}}
    return None


def select_attrs(entity, wanted, alteration_type=None, covered=False):
    """(name, attr) pairs to show: all user attributes when `wanted` is
    empty or holds "*", else those listed, in the listed order. Builtins
    appear only when listed. `covered` lists missing ones as None-typed."""
    wanted = list(wanted or [])
    names = list(entity.attrs) if not wanted or "*" in wanted else []
    for name in wanted:
        if name != "*" and name not in names:
            names.append(name)
    selected = []
    for name in names:
        if name in entity.attrs:
            selected.append((name, entity.attrs[name]))
        elif name in BUILTIN_ATTRS:
            attr = builtin_attr(entity, name, alteration_type)
            if attr:
                selected.append((name, attr))
        elif covered:
            selected.append((name, {"type": "None", "value": None,
                                    "metadata": {}}))
    return selected


def render(entity_id, entity_type, selected, fmt):
    """An entity in `fmt`: normalized, keyValues or values (a bare list)."""
    if fmt == "values":
        return [attr["value"] for _, attr in selected]
    out = {"id": entity_id, "type": entity_type}
    for name, attr in selected:
        if fmt == "keyValues":
            out[name] = attr["value"]
        else:
            out[name] = {"type": attr["type"], "value": attr["value"],
                         "metadata": attr.get("metadata", {})}
    return out


def q_value(entity, name):
    """Values `q` compares: attribute values, or the builtin dates."""
    if name == "dateModified":
        return iso_ms(entity.modified)
    if name == "dateCreated":
        return iso_ms(entity.created)
    if name in entity.attrs:
        return entity.attrs[name]["value"]
    return MISSING
