"""Renders NGSI-LD notifications as Orion-LD's native notifier sends them:
the Notification envelope, Link or inline @context, Ngsild-Attribute-Format,
NGSILD-Tenant, and the triggering request's Authorization / X-Auth-Token."""
import time
import uuid

from tests.testing.broker_sim import ld_model
from tests.testing.broker_sim.encoding import dumps, iso_ms

FORMAT_HEADER = {"normalized": "Normalized", "concise": "Concise",
                 "simplified": "Simplified", "keyValues": "Simplified"}
FORWARDED_HEADERS = ("Authorization", "X-Auth-Token")


def _entity(sub, change, fmt):
    if change.alteration == "entityDelete":
        return {"id": change.entity.id, "type": change.entity.type,
                "deletedAt": iso_ms(change.deleted_at or time.time())}
    notification = sub.body.get("notification", {})
    return ld_model.render_entity(change.entity, fmt,
                                  notification.get("attributes"),
                                  sub.body.get("lang"),
                                  notification.get("sysAttrs", False))


def render(sub, change):
    """(method, url, headers, body bytes) for one notification."""
    notification = sub.body.get("notification", {})
    endpoint = notification.get("endpoint", {})
    fmt = notification.get("format", "normalized")
    fmt = "simplified" if fmt == "keyValues" else fmt
    context = sub.body.get("@context", ld_model.CORE_CONTEXT)
    inline = endpoint.get("accept") == "application/ld+json"
    body = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification", "subscriptionId": sub.id,
            "notifiedAt": iso_ms(time.time()),
            "data": [_entity(sub, change, fmt)]}
    headers = {"Accept": "application/json",
               "Ngsild-Attribute-Format": FORMAT_HEADER[fmt]}
    if inline:
        body = {"@context": context, **body}
        headers["Content-Type"] = "application/ld+json"
    else:
        link = context if isinstance(context, str) else ld_model.CORE_CONTEXT
        headers["Content-Type"] = "application/json"
        headers["Link"] = (f"<{link}>; rel=\"http://www.w3.org/ns/json-ld#"
                           "context\"; type=\"application/ld+json\"")
    if change.tenant:
        headers["NGSILD-Tenant"] = change.tenant
    for name in FORWARDED_HEADERS:
        value = change.request.headers.get(name) if change.request else None
        if value:
            headers[name] = value
    uri = endpoint["uri"]
    url = f"{uri}{'&' if '?' in uri else '?'}subscriptionId={sub.id}"
    return "POST", url, headers, dumps(body)
