"""NGSI-LD entities: validating request payloads into stored (normalized)
attributes, and rendering them as normalized, concise or simplified.

Names are kept as sent: the simulator does not expand terms against an
@context, so a client gets back exactly the short names it wrote.
"""
from tests.testing.broker_sim.encoding import iso_ms
from tests.testing.broker_sim.errors import ld_error
from tests.testing.broker_sim.queries import MISSING

DEFAULT_CONTEXT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE_CONTEXT = ("https://uri.etsi.org/ngsi-ld/v1/"
                "ngsi-ld-core-context-v1.6.jsonld")
ENTITY_MEMBERS = ("id", "type", "@context", "createdAt", "modifiedAt",
                  "scope", "location")
# The member holding each attribute type's value, per NGSI-LD.
VALUE_MEMBER = {"Property": "value", "GeoProperty": "value",
                "Relationship": "object", "LanguageProperty": "languageMap",
                "VocabularyProperty": "vocab", "VocabProperty": "vocab",
                "JsonProperty": "json", "ListProperty": "valueList",
                "ListRelationship": "objectList"}
_GEO_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString",
              "Polygon", "MultiPolygon")
ATTR_META = ("type", "value", "object", "languageMap", "vocab", "json",
             "valueList", "objectList", "observedAt", "unitCode",
             "datasetId", "createdAt", "modifiedAt", "lang")


def json_type_name(value):
    """Orion-LD's names for JSON types in error details."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Int"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if value is None:
        return "Null"
    return "Object"


def expanded(name):
    return name if ":" in name else DEFAULT_CONTEXT + name


def _infer_type(raw):
    for attr_type, member in VALUE_MEMBER.items():
        if member in raw and attr_type not in ("GeoProperty", "VocabProperty"):
            return attr_type
    return "Property"


def _check_geojson(value):
    if not isinstance(value, dict) or value.get("type") not in _GEO_TYPES:
        raise ld_error(400, "BadRequestData", "Invalid GeoJSON",
                       "invalid GeoJSON geometry")
    if value["type"] == "Point":
        coordinates = value.get("coordinates")
        if not isinstance(coordinates, list) or not all(
                isinstance(c, (int, float)) and not isinstance(c, bool)
                for c in coordinates):
            raise ld_error(400, "BadRequestData", "Invalid GeoJSON",
                           "all members of a 'Point' in 'coordinates' must "
                           "be of type 'Number'")


def parse_attr(name, raw, creation=True):
    """A request attribute in normalized form. Shorthands become full
    attributes: a bare value is a Property, {"object": ..} a Relationship."""
    if not isinstance(raw, dict):
        return {"type": "Property", "value": raw}
    attr = dict(raw)
    attr.setdefault("type", _infer_type(raw))
    member = VALUE_MEMBER.get(attr["type"])
    if member is None:
        raise ld_error(400, "BadRequestData", "Invalid Attribute Type",
                       f"{expanded(name)}: {attr['type']}")
    if creation and member not in attr:
        raise ld_error(400, "BadRequestData",
                       f"Missing /{member}/ field for {attr['type']} at "
                       "creation time", expanded(name))
    if attr["type"] == "GeoProperty" and "value" in attr:
        _check_geojson(attr["value"])
    for sub_name, sub in raw.items():
        if sub_name not in ATTR_META and isinstance(sub, dict):
            attr[sub_name] = parse_attr(sub_name, sub, creation)
    return attr


def parse_attrs(raw, creation=True):
    return {name: parse_attr(name, item, creation)
            for name, item in raw.items() if name not in ENTITY_MEMBERS}


def _pick_language(language_map, lang):
    """Orion-LD's fallback: the asked language, @none, en, the first."""
    for key in (lang, "@none", "en"):
        if key in language_map:
            return key, language_map[key]
    key = next(iter(language_map))
    return key, language_map[key]


def _with_lang(attr, lang):
    if not lang or attr.get("type") != "LanguageProperty":
        return attr
    key, value = _pick_language(attr["languageMap"], lang)
    out = {"type": "Property", "value": value}
    if key != "@none":
        out["lang"] = key
    out.update({k: v for k, v in attr.items()
                if k not in ("type", "languageMap")})
    return out


def render_attr(attr, fmt, lang=None, times=None):
    attr = _with_lang(attr, lang)
    member = VALUE_MEMBER.get(attr.get("type"), "value")
    if fmt == "simplified":
        return attr.get(member)
    out = {}
    for key, value in attr.items():
        if key == "type" and fmt == "concise":
            continue
        if isinstance(value, dict) and key not in ATTR_META:
            value = render_attr(value, fmt, lang)
        out[key] = value
    if times:
        out["createdAt"], out["modifiedAt"] = (iso_ms(t) for t in times)
    if fmt == "concise" and set(out) == {"value"} and \
            not isinstance(out["value"], dict):
        return out["value"]  # a plain Property collapses to its value
    return out


def render_entity(entity, fmt="normalized", attrs=None, lang=None,
                  sys_attrs=False):
    out = {"id": entity.id, "type": entity.type}
    for name, attr in entity.attrs.items():
        if attrs and name not in attrs:
            continue
        times = entity.attr_times.get(name) if sys_attrs and \
            fmt != "simplified" else None
        out[name] = render_attr(attr, fmt, lang, times)
    if sys_attrs:
        out["createdAt"] = iso_ms(entity.created)
        out["modifiedAt"] = iso_ms(entity.modified)
    return out


def q_value(entity, name):
    """Values `q` compares: attribute values, or the system timestamps."""
    if name == "modifiedAt":
        return iso_ms(entity.modified)
    if name == "createdAt":
        return iso_ms(entity.created)
    attr = entity.attrs.get(name)
    if attr is None:
        return MISSING
    return attr.get(VALUE_MEMBER.get(attr.get("type"), "value"))
