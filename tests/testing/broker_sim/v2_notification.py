"""Renders NGSIv2 notifications: the standard formats and httpCustom,
with Orion's headers. Returns what the notifier sends; sends nothing."""
from urllib.parse import unquote, urlencode

from tests.testing.broker_sim import macros, v2_model
from tests.testing.broker_sim.encoding import dumps
from tests.testing.broker_sim.v2_model import parse_attr

WRAPPED_FORMATS = ("normalized", "keyValues", "values")
FLAT_FORMATS = {"simplifiedNormalized": "normalized",
                "simplifiedKeyValues": "keyValues"}
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


def _with_metadata(sub, change, selected):
    """Applies notification.metadata: user metadata filter and the builtin
    previousValue / actionType metadata."""
    wanted = sub.notification.get("metadata")
    out = []
    for name, attr in selected:
        metadata = dict(attr.get("metadata", {}))
        if wanted and "*" not in wanted:
            metadata = {k: v for k, v in metadata.items() if k in wanted}
        if wanted and "previousValue" in wanted and change.previous and \
                name in change.previous.attrs:
            old = change.previous.attrs[name]
            metadata["previousValue"] = {"type": old["type"],
                                         "value": old["value"]}
        if wanted and "actionType" in wanted and name in change.action_types:
            metadata["actionType"] = {"type": "Text",
                                      "value": change.action_types[name]}
        out.append((name, dict(attr, metadata=metadata)))
    return out


def _selected(sub, change, entity):
    notification = sub.notification
    selected = v2_model.select_attrs(entity, notification.get("attrs"),
                                     _alteration_value(change),
                                     notification.get("covered", False))
    excluded = set(notification.get("exceptAttrs", []))
    selected = [(n, a) for n, a in selected if n not in excluded]
    if notification.get("onlyChangedAttrs"):
        selected = [(n, a) for n, a in selected
                    if n in change.request_attrs or n in v2_model.BUILTIN_ATTRS]
    return _with_metadata(sub, change, selected)


def _alteration_value(change):
    if change.alteration == "entityUpdate" and not change.changed:
        return "entityUpdate"
    if change.alteration == "entityUpdate":
        return "entityChange"
    return change.alteration


def _standard_body(sub, change, entity, fmt):
    rendered_format = FLAT_FORMATS.get(fmt, fmt)
    rendered = v2_model.render(entity.id, entity.type,
                               _selected(sub, change, entity), rendered_format)
    if fmt in FLAT_FORMATS:
        return rendered
    return {"subscriptionId": sub.id, "data": [rendered]}


def _patched(entity, patch, values):
    """The entity with httpCustom.ngsi applied (macros expanded)."""
    expanded = macros.substitute_json(patch, values)
    patched = entity.copy()
    patched.id = expanded.pop("id", patched.id)
    patched.type = expanded.pop("type", patched.type)
    for name, raw in expanded.items():
        patched.attrs[name] = parse_attr(name, raw, key_values=False)
    return patched


def render(sub, change):
    """(method, url, headers, body bytes or None) for one notification."""
    entity = change.entity
    fmt = sub.notification.get("attrsFormat", "normalized")
    headers = {"Accept": "application/json",
               "Fiware-ServicePath": entity.service_path}
    if change.tenant:
        headers["Fiware-Service"] = change.tenant
    token = change.request.headers.get("X-Auth-Token") if change.request \
        else None
    if token:
        headers["X-Auth-Token"] = token
    custom = sub.notification.get("httpCustom")
    if custom is None:
        headers["Content-Type"] = JSON_CONTENT_TYPE
        headers["Ngsiv2-AttrsFormat"] = fmt
        return ("POST", sub.notification["http"]["url"], headers,
                dumps(_standard_body(sub, change, entity, fmt)))
    return _render_custom(sub, change, custom, fmt, headers)


def _render_custom(sub, change, custom, fmt, headers):
    values = macros.macro_values(change.entity, change.tenant, change.request)
    url = macros.substitute(custom["url"], values, strict=False)
    qs = {}
    for key, template in custom.get("qs", {}).items():
        try:
            qs[macros.substitute(key, values, True)] = macros.substitute(
                template, values, True)
        except macros.MissingAttr:
            continue
    if qs:
        url += ("&" if "?" in url else "?") + urlencode(qs)
    if "payload" in custom:
        headers["Ngsiv2-AttrsFormat"] = "custom"
        body = None
        if custom["payload"] is not None:
            headers["Content-Type"] = TEXT_CONTENT_TYPE
            body = macros.substitute(unquote(custom["payload"]), values,
                                     strict=False).encode("utf-8")
    elif "json" in custom:
        headers["Ngsiv2-AttrsFormat"] = "custom"
        headers["Content-Type"] = JSON_CONTENT_TYPE
        body = dumps(macros.substitute_json(custom["json"], values))
    else:
        entity = change.entity
        if "ngsi" in custom:
            entity = _patched(entity, custom["ngsi"], values)
        headers["Ngsiv2-AttrsFormat"] = fmt
        headers["Content-Type"] = JSON_CONTENT_TYPE
        body = dumps(_standard_body(sub, change, entity, fmt))
    for name, template in custom.get("headers", {}).items():
        try:
            name = macros.substitute(name, values, True)
            value = macros.substitute(template, values, True)
        except macros.MissingAttr:
            continue
        for existing in [h for h in headers if h.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return custom.get("method", "POST"), url, headers, body
