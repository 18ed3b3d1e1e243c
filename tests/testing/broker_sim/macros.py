"""Orion's ${...} macros in httpCustom url, qs, headers, payload and json.

A macro naming an attribute the entity lacks renders as "null" in text
payloads and makes a qs parameter or header disappear (v2-13 fixture); a
json string that is exactly one macro keeps the attribute's JSON type.
"""
import json
import re

from tests.testing.broker_sim.encoding import orion_number, orion_values

_MACRO_RE = re.compile(r"\$\{([^}]*)\}")


class MissingAttr(Exception):
    """A macro names an attribute the entity does not have."""


def macro_values(entity, tenant, request):
    values = {name: attr["value"] for name, attr in entity.attrs.items()}
    values.update({
        "id": entity.id, "type": entity.type, "service": tenant,
        "servicePath": entity.service_path,
        "authToken": request.headers.get("X-Auth-Token", "") if request else "",
    })
    return values


def as_text(value):
    value = orion_number(value)
    if isinstance(value, str):
        return value
    return json.dumps(orion_values(value), separators=(",", ":"))


def substitute(template, values, strict):
    """Replaces macros in a string. With `strict`, a missing attribute
    raises MissingAttr; otherwise it renders as "null"."""
    def replace(match):
        name = match.group(1)
        if name not in values:
            if strict:
                raise MissingAttr(name)
            return "null"
        return as_text(values[name])
    return _MACRO_RE.sub(replace, template)


def substitute_json(template, values):
    """A json template with macros applied, keeping JSON types where a
    string is one whole macro."""
    if isinstance(template, dict):
        return {substitute(k, values, False): substitute_json(v, values)
                for k, v in template.items()}
    if isinstance(template, list):
        return [substitute_json(v, values) for v in template]
    if isinstance(template, str):
        whole = _MACRO_RE.fullmatch(template)
        if whole:
            return values.get(whole.group(1))
        return substitute(template, values, False)
    return template
