"""Conversions between plain Python/JSON data and the protobuf model.

``entity_from_dict`` accepts NGSIv2 or NGSI-LD entities in normalized form
(``{"temperature": {"type": "Number", "value": 23.5}}``) or keyValues form
(``{"temperature": 23.5}``), ``entity_to_dict`` renders an ``Entity`` back as
normalized (or keyValues) JSON, and ``event_from_json`` / ``event_to_json``
read and write the receiver's ``event-json`` line format (proto3 JSON mapping).
All functions are pure and thread-safe.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable, Literal, Mapping, Union

from google.protobuf import json_format, struct_pb2

from ngsi_bridge.errors import ConversionError
from ngsi_bridge.v1 import ngsi_pb2

Entity = ngsi_pb2.Entity
Attribute = ngsi_pb2.Attribute
NgsiEvent = ngsi_pb2.NgsiEvent
EntityLike = Union[Mapping[str, Any], "ngsi_pb2.Entity"]
InputFormat = Literal["auto", "normalized", "keyValues"]

# JSON member of an attribute -> (proto field, is a google.protobuf.Value)
_ATTR_FIELDS: dict[str, tuple[str, bool]] = {
    "value": ("value", True), "object": ("object", True),
    "languageMap": ("language_map", True), "vocab": ("vocab", True), "json": ("json", True),
    "observedAt": ("observed_at", False), "unitCode": ("unit_code", False),
    "datasetId": ("dataset_id", False), "createdAt": ("created_at", False),
    "modifiedAt": ("modified_at", False), "deletedAt": ("deleted_at", False),
    "lang": ("lang", False),
    "previousValue": ("previous_value", True), "previousObject": ("previous_object", True),
    "previousLanguageMap": ("previous_language_map", True),
    "previousVocab": ("previous_vocab", True), "previousJson": ("previous_json", True),
}
# Members that mark a dict as a normalized attribute rather than a structured value.
_ATTR_MARKERS = {"value", "object", "languageMap", "vocab", "json"}
_SUB_ATTR_TYPES = {"Property", "Relationship", "GeoProperty", "LanguageProperty",
                   "VocabularyProperty", "JsonProperty", "ListProperty", "ListRelationship"}
_ENTITY_STRINGS = {"scope": "scope", "createdAt": "created_at", "modifiedAt": "modified_at",
                   "deletedAt": "deleted_at"}


# --- google.protobuf.Value <-> Python ---------------------------------------------------

def to_value(obj: Any) -> struct_pb2.Value:
    """A Python JSON-like value (None, bool, int, float, str, list, dict) as a ``Value``.

    Raises ConversionError for anything JSON cannot hold (NaN, sets, objects).
    """
    value = struct_pb2.Value()
    _fill_value(value, obj)
    return value


def _fill_value(value: struct_pb2.Value, obj: Any) -> None:
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, (int, float)):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise ConversionError(f"{obj!r} is not a JSON number: replace NaN/inf before writing")
        value.number_value = float(obj)
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, Mapping):
        value.struct_value.SetInParent()
        for key, item in obj.items():
            _fill_value(value.struct_value.fields[str(key)], item)
    elif isinstance(obj, (list, tuple)):
        value.list_value.SetInParent()
        for item in obj:
            _fill_value(value.list_value.values.add(), item)
    elif hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        _fill_value(value, obj.item())
    elif hasattr(obj, "isoformat"):  # datetime, date
        value.string_value = obj.isoformat()
    else:
        raise ConversionError(
            f"cannot store {type(obj).__name__} value {obj!r} in an NGSI attribute: "
            "convert it to a number, string, bool, list or dict")


def from_value(value: struct_pb2.Value) -> Any:
    """A ``google.protobuf.Value`` as a plain Python value (numbers are floats)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {k: from_value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(v) for v in value.list_value.values]
    return None  # null_value or unset


# --- dict -> proto ----------------------------------------------------------------------

def _looks_normalized(obj: Any) -> bool:
    if not isinstance(obj, Mapping):
        return False
    if _ATTR_MARKERS & obj.keys():
        return True
    return obj.get("type") in _SUB_ATTR_TYPES


def attribute_from_dict(obj: Any, fmt: InputFormat = "auto") -> ngsi_pb2.Attribute:
    """One attribute: a normalized attribute object, or (keyValues) a bare value.

    With ``fmt="auto"`` a dict is normalized when it has ``value``, ``object``,
    ``languageMap``, ``vocab`` or ``json``, or an NGSI-LD property type; any
    other value is taken as a bare keyValues value (``bare=True``).
    """
    attr = ngsi_pb2.Attribute()
    if isinstance(obj, list) and fmt != "keyValues" and obj and all(
            _looks_normalized(item) for item in obj):
        # NGSI-LD multi-attribute: instances told apart by datasetId
        for item in obj:
            attr.instances.append(attribute_from_dict(item, "normalized"))
        return attr
    normalized = fmt == "normalized" or (fmt == "auto" and _looks_normalized(obj))
    if not normalized:
        attr.bare = True
        _fill_value(attr.value, obj)
        return attr
    if not isinstance(obj, Mapping):
        raise ConversionError(
            f"normalized attribute must be an object like {{\"type\": ..., \"value\": ...}}, "
            f"got {obj!r}: pass format='keyValues' for bare values")
    for key, item in obj.items():
        if key == "type":
            attr.type = str(item)
        elif key == "metadata":
            if not isinstance(item, Mapping):
                raise ConversionError(f"metadata must be an object, got {item!r}")
            for name, meta in item.items():
                attr.metadata[name].CopyFrom(attribute_from_dict(meta, "normalized"))
        elif key in _ATTR_FIELDS:
            field, is_value = _ATTR_FIELDS[key]
            if is_value:
                _fill_value(getattr(attr, field), item)
            else:
                setattr(attr, field, str(item))
        elif _looks_normalized(item):  # NGSI-LD sub-property / sub-relationship
            attr.metadata[key].CopyFrom(attribute_from_dict(item, "normalized"))
        else:
            _fill_value(attr.extra[key], item)
    return attr


def entity_from_dict(obj: Mapping[str, Any], fmt: InputFormat = "auto") -> ngsi_pb2.Entity:
    """An entity dict (normalized or keyValues, NGSIv2 or NGSI-LD) as an ``Entity``.

    ``id`` is required (NGSI needs it to write); ``type`` may be a string or,
    for NGSI-LD, a list. ``@context`` goes to ``context``. Raises
    ConversionError naming the offending member.
    """
    if not isinstance(obj, Mapping):
        raise ConversionError(f"an entity must be a dict or ngsi_pb2.Entity, got {type(obj).__name__}")
    if "id" not in obj:
        raise ConversionError(f"entity has no 'id' (members: {sorted(obj)[:8]}): add one")
    entity = ngsi_pb2.Entity(id=str(obj["id"]))
    for key, item in obj.items():
        if key == "id":
            continue
        if key == "type":
            if isinstance(item, (list, tuple)):
                entity.types.extend(str(t) for t in item)
                if len(item) == 1:
                    entity.type = str(item[0])
            else:
                entity.type = str(item)
        elif key == "@context":
            _fill_value(entity.context, item)
        elif key in _ENTITY_STRINGS:
            setattr(entity, _ENTITY_STRINGS[key], str(item))
        else:
            try:
                entity.attrs[key].CopyFrom(attribute_from_dict(item, fmt))
            except ConversionError as exc:
                raise ConversionError(f"entity {entity.id!r} attribute {key!r}: {exc}") from None
    return entity


def to_entity(obj: EntityLike, fmt: InputFormat = "auto") -> ngsi_pb2.Entity:
    """An ``Entity`` as is, or a dict converted by ``entity_from_dict``."""
    if isinstance(obj, ngsi_pb2.Entity):
        return obj
    if hasattr(obj, "proto") and isinstance(getattr(obj, "proto"), ngsi_pb2.Entity):
        return obj.proto  # an EntityView
    return entity_from_dict(obj, fmt)


def to_entities(objs: Iterable[EntityLike], fmt: InputFormat = "auto") -> list[ngsi_pb2.Entity]:
    """``to_entity`` over an iterable (a single dict or Entity is accepted too)."""
    if isinstance(objs, (Mapping, ngsi_pb2.Entity)):
        objs = [objs]
    return [to_entity(o, fmt) for o in objs]


# --- proto -> dict ----------------------------------------------------------------------

def attribute_to_dict(attr: ngsi_pb2.Attribute, key_values: bool = False) -> Any:
    """An ``Attribute`` as JSON data: normalized object, or the bare value when
    ``key_values`` or the attribute itself is bare."""
    if attr.instances:
        return [attribute_to_dict(i, key_values) for i in attr.instances]
    if key_values or attr.bare:
        if attr.HasField("value"):
            return from_value(attr.value)
        if attr.HasField("object"):
            return from_value(attr.object)
        if attr.HasField("language_map"):
            return from_value(attr.language_map)
        if attr.HasField("vocab"):
            return from_value(attr.vocab)
        if attr.HasField("json"):
            return from_value(attr.json)
        return None
    out: dict[str, Any] = {}
    if attr.type:
        out["type"] = attr.type
    for key, (field, is_value) in _ATTR_FIELDS.items():
        if is_value:
            if attr.HasField(field):
                out[key] = from_value(getattr(attr, field))
        elif getattr(attr, field):
            out[key] = getattr(attr, field)
    if attr.metadata:
        out["metadata"] = {k: attribute_to_dict(v) for k, v in attr.metadata.items()}
    for key, item in attr.extra.items():
        out[key] = from_value(item)
    return out


def entity_to_dict(entity: ngsi_pb2.Entity, key_values: bool = False) -> dict[str, Any]:
    """An ``Entity`` as a JSON-ready dict (normalized unless ``key_values``)."""
    out: dict[str, Any] = {}
    if entity.HasField("id"):
        out["id"] = entity.id
    if entity.types and len(entity.types) > 1:
        out["type"] = list(entity.types)
    elif entity.HasField("type"):
        out["type"] = entity.type
    for key, field in _ENTITY_STRINGS.items():
        if getattr(entity, field):
            out[key] = getattr(entity, field)
    for name, attr in entity.attrs.items():
        out[name] = attribute_to_dict(attr, key_values)
    if entity.values:
        out["values"] = [from_value(v) for v in entity.values]
    for key, item in entity.extra.items():
        out[key] = from_value(item)
    if entity.HasField("context"):
        out["@context"] = from_value(entity.context)
    return out


# --- event-json lines -------------------------------------------------------------------

def event_from_json(line: Union[str, bytes]) -> ngsi_pb2.NgsiEvent:
    """One ``event-json`` line (proto3 JSON mapping) as an ``NgsiEvent``.

    Unknown members are ignored (newer receivers may add fields). Raises
    ConversionError with the start of the line when it is not an event.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    try:
        return json_format.Parse(line, ngsi_pb2.NgsiEvent(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ConversionError(
            f"not an event-json line ({exc}): {line[:120]!r}; is the line listener's "
            "format event-json (not fpc or body)?") from None


def event_to_json(event: ngsi_pb2.NgsiEvent) -> str:
    """An ``NgsiEvent`` as one ``event-json`` line (no trailing newline)."""
    return json.dumps(json_format.MessageToDict(event), separators=(",", ":"))


def event_to_dict(event: ngsi_pb2.NgsiEvent) -> dict[str, Any]:
    """An ``NgsiEvent`` as its proto3 JSON dict (``sequence`` as a string, as in JSON)."""
    return json_format.MessageToDict(event)
