"""NGSI-LD endpoints (/ngsi-ld/v1/entities..., entityOperations,
subscriptions) with Orion-LD's status codes and ProblemDetails."""
import json
import re

from tests.testing.broker_sim import ld_model, queries
from tests.testing.broker_sim.change import Change
from tests.testing.broker_sim.encoding import dumps, loads, now_ms
from tests.testing.broker_sim.errors import ApiError, ld_error
from tests.testing.broker_sim.http_types import Response
from tests.testing.broker_sim.store import Entity
from tests.testing.broker_sim.validation import is_uri, ld_tenant

BASE = "/ngsi-ld/v1"
_ROUTES = [
    (r"/entities", "entities"),
    (r"/entities/([^/]+)", "entity"),
    (r"/entities/([^/]+)/attrs", "entity_attrs"),
    (r"/entities/([^/]+)/attrs/([^/]+)", "attr"),
    (r"/entityOperations/(create|upsert|update|delete)", "batch"),
    (r"/subscriptions", "subscriptions"),
    (r"/subscriptions/([^/]+)", "subscription"),
]
LINK = (f"<{ld_model.CORE_CONTEXT}>; rel=\"http://www.w3.org/ns/json-ld#"
        "context\"; type=\"application/ld+json\"")


def json_response(status, body, headers=None):
    headers = dict(headers or {})
    headers["Content-Type"] = "application/json"
    return Response(status, headers, dumps(body))


def _not_found(entity_id):
    return ld_error(404, "ResourceNotFound", "Entity does not exist",
                    entity_id)


class LdApi:
    """Serves /ngsi-ld/v1. Runs under the store lock taken by `handle`."""

    def __init__(self, store, engine):
        self._store = store
        self._engine = engine

    def handle(self, request):
        path = request.path[len(BASE):]
        for pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match:
                break
        else:
            raise ld_error(404, "ResourceNotFound", "Service Not Found",
                           request.path)
        request.tenant = ld_tenant(request.headers)
        handler = getattr(self, f"_{name}_{request.method.lower()}", None)
        if handler is None:
            raise ld_error(405, "BadRequestData", "Method not allowed",
                           request.method)
        try:
            with self._store.lock:
                response = handler(request, *match.groups())
        except ApiError as error:
            response = json_response(error.status, error.body, error.headers)
        return _pretty_printed(request, response)

    def _json_body(self, request):
        if not request.body:
            raise ld_error(400, "BadRequestData", "Payload is missing",
                           "no payload")
        try:
            return loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise ld_error(400, "InvalidRequest", "JSON Parse Error",
                           "Invalid JSON payload")

    def _entities(self, request):
        return self._store.entities("ld", request.tenant)

    def _existing(self, request, entity_id, where="Entity::id in URL"):
        if not is_uri(entity_id):
            raise ld_error(400, "BadRequestData", "Invalid URI", where)
        entity = self._entities(request).get(entity_id)
        if entity is None:
            raise _not_found(entity_id)
        return entity

    def _publish(self, request, alteration, entity, previous, names):
        self._engine.publish(Change(
            "ld", request.tenant, alteration, entity.copy(),
            previous.copy() if previous else None, list(names), set(names),
            {}, request, now_ms() if alteration == "entityDelete"
            else None))

    # --- entities -----------------------------------------------------------

    def _validated(self, raw, creation):
        """(id, type or None, attrs) of a request entity, or raises."""
        if not isinstance(raw, dict):
            raise ld_error(400, "BadRequestData", "Invalid Entity",
                           "must be a JSON Object")
        if "id" not in raw:
            raise ld_error(400, "BadRequestData", "Invalid Entity",
                           "mandatory field missing: Entity::id")
        entity_id = raw["id"]
        if not isinstance(entity_id, str):
            raise ld_error(400, "BadRequestData", "Invalid JSON type",
                           ld_model.json_type_name(entity_id))
        if not is_uri(entity_id):
            raise ld_error(400, "BadRequestData", "Invalid URI", "Entity::id")
        entity_type = raw.get("type")
        if entity_type is not None and not isinstance(entity_type, str):
            raise ld_error(400, "BadRequestData",
                           "The Entity Type must be a JSON String",
                           ld_model.json_type_name(entity_type))
        return entity_id, entity_type, ld_model.parse_attrs(raw, creation)

    def _create(self, request, entity_id, entity_type, attrs, now):
        if entity_type is None:
            raise ld_error(400, "BadRequestData", "Invalid Entity",
                           "no type in incoming payload for CREATION of "
                           "Entity")
        entity = Entity(entity_id, entity_type, created=now)
        for name, attr in attrs.items():
            entity.set_attr(name, attr, now)
        self._entities(request)[entity_id] = entity
        self._publish(request, "entityCreate", entity, None, attrs)

    def _merge(self, request, entity, attrs, now, overwrite=True):
        """Appends/overwrites attributes; returns the names it skipped."""
        previous = entity.copy()
        skipped = [n for n in attrs if n in entity.attrs and not overwrite]
        written = [n for n in attrs if n not in skipped]
        for name in written:
            entity.set_attr(name, attrs[name], now)
        if written:
            self._publish(request, "entityUpdate", entity, previous, written)
        return skipped

    def _entities_post(self, request):
        entity_id, entity_type, attrs = self._validated(
            self._json_body(request), creation=True)
        if entity_id in self._entities(request):
            raise ld_error(409, "AlreadyExists", "Entity already exists",
                           entity_id)
        self._create(request, entity_id, entity_type, attrs, now_ms())
        return Response(201, {"Location": f"{BASE}/entities/{entity_id}"})

    def _render_options(self, request):
        options = request.options()
        fmt = request.query.get("format") or (
            "simplified" if options & {"keyValues", "simplified"} else
            "concise" if "concise" in options else "normalized")
        attrs = [a for a in request.query.get("attrs", "").split(",") if a]
        return {"fmt": fmt, "attrs": attrs or None,
                "lang": request.query.get("lang"),
                "sys_attrs": "sysAttrs" in options}

    def _entities_get(self, request):
        query = request.query
        ids = query["id"].split(",") if "id" in query else None
        types = query["type"].split(",") if "type" in query else None
        try:
            predicate = (queries.parse_q(query["q"], ld_model.q_value, ";&")
                         if "q" in query else None)
        except ValueError as error:
            raise ld_error(400, "BadRequestData", "Invalid query", str(error))
        matched = [e for e in self._entities(request).values()
                   if (types is None or e.type in types)
                   and queries.match_id(e.id, ids, query.get("idPattern"))
                   and (predicate is None or predicate(e))]
        page, total = queries.page(matched, query)
        headers = {"Link": LINK}
        if query.get("count") == "true":
            headers["NGSILD-Results-Count"] = str(total)
        options = self._render_options(request)
        return json_response(
            200, [ld_model.render_entity(e, **options) for e in page], headers)

    def _entity_get(self, request, entity_id):
        entity = self._existing(request, entity_id)
        return json_response(200, ld_model.render_entity(
            entity, **self._render_options(request)), {"Link": LINK})

    def _entity_delete(self, request, entity_id):
        entity = self._existing(request, entity_id)
        del self._entities(request)[entity_id]
        self._publish(request, "entityDelete", entity, entity, [])
        return Response(204)

    # --- attributes ---------------------------------------------------------

    def _entity_attrs_post(self, request, entity_id):
        body = self._json_body(request)
        entity = self._existing(request, entity_id)
        attrs = ld_model.parse_attrs(body)
        overwrite = "noOverwrite" not in request.options()
        skipped = self._merge(request, entity, attrs, now_ms(), overwrite)
        if skipped and len(skipped) == len(attrs):
            # Orion-LD's answer here is not a full ProblemDetails (no type).
            return json_response(400, {"title": "attribute already exists",
                                       "detail": "overwrite is not allowed",
                                       "attributes": skipped}, {"Link": LINK})
        if skipped:
            return self._not_updated(attrs, skipped,
                                     "attribute already exists")
        return Response(204)

    def _not_updated(self, attrs, skipped, reason):
        return json_response(207, {
            "updated": [n for n in attrs if n not in skipped],
            "notUpdated": [{"attributeName": n, "reason": reason}
                           for n in skipped]})

    def _entity_attrs_patch(self, request, entity_id):
        body = self._json_body(request)
        entity = self._existing(request, entity_id)
        attrs = ld_model.parse_attrs(body, creation=False)
        missing = [n for n in attrs if n not in entity.attrs]
        present = {n: a for n, a in attrs.items() if n not in missing}
        self._merge(request, entity, present, now_ms())
        if missing:
            return self._not_updated(attrs, missing, "attribute not found")
        return Response(204)

    def _attr_patch(self, request, entity_id, name):
        body = self._json_body(request)
        entity = self._existing(request, entity_id)
        if name not in entity.attrs:
            raise ld_error(404, "ResourceNotFound", "Attribute not found",
                           name)
        patch = {k: v for k, v in body.items() if k != "@context"}
        merged = dict(entity.attrs[name], **ld_model.parse_attr(
            name, patch, creation=False))
        self._merge(request, entity, {name: merged}, now_ms())
        return Response(204)

    def _attr_delete(self, request, entity_id, name):
        entity = self._existing(request, entity_id)
        if name not in entity.attrs:
            raise ld_error(404, "ResourceNotFound", "Attribute not found",
                           name)
        previous = entity.copy()
        entity.delete_attr(name, now_ms())
        self._publish(request, "entityUpdate", entity, previous, [name])
        return Response(204)

    # --- entityOperations -----------------------------------------------------

    def _batch_post(self, request, operation):
        body = self._json_body(request)
        if not isinstance(body, list):
            raise ld_error(400, "BadRequestData", "Not a JSON Array",
                           "payload body must be a JSON Array")
        if not body:
            raise ld_error(400, "BadRequestData", "Invalid Payload Body",
                           "Empty Array")
        success, errors, created = [], [], []
        now = now_ms()
        for raw in body:
            entity_id = _batch_entity_id(raw)
            try:
                if operation == "delete":
                    self._batch_delete_one(request, raw)
                elif self._batch_write_one(request, operation, raw, now):
                    created.append(raw["id"])
                success.append(raw if operation == "delete" else raw["id"])
            except ApiError as error:
                errors.append({"entityId": entity_id,
                               "error": dict(error.body,
                                             status=error.status)})
        if errors:
            return json_response(207, {"success": success, "errors": errors})
        if operation == "create" or created:
            return json_response(201, created if operation == "upsert"
                                 else success)
        return Response(204)

    def _batch_write_one(self, request, operation, raw, now):
        """Creates, upserts or updates one entity; True if it created."""
        update_mode = "update" in request.options() or operation == "update"
        entity_id, entity_type, attrs = self._validated(
            raw, creation=operation != "update")
        entity = self._entities(request).get(entity_id)
        if entity is None:
            if operation == "update":
                raise ld_error(404, "ResourceNotFound", "Entity not found",
                               entity_id)
            self._create(request, entity_id, entity_type, attrs, now)
            return True
        if operation == "create":
            raise ld_error(409, "AlreadyExists", "Entity already exists",
                           entity_id)
        if not update_mode:  # upsert replaces by default
            for name in [n for n in entity.attrs if n not in attrs]:
                entity.delete_attr(name, now)
        self._merge(request, entity, attrs, now,
                    overwrite="noOverwrite" not in request.options())
        return False

    def _batch_delete_one(self, request, entity_id):
        if not is_uri(entity_id):
            raise ld_error(400, "BadRequestData", "Invalid URI", "Entity::id")
        entity = self._entities(request).pop(entity_id, None)
        if entity is None:
            raise ld_error(404, "ResourceNotFound", "Entity Not Found",
                           "Cannot delete entities that do not exist")
        self._publish(request, "entityDelete", entity, entity, [])

    # --- subscriptions --------------------------------------------------------

    def _subscriptions_post(self, request):
        body = self._json_body(request)
        if not isinstance(body, dict):
            raise ld_error(400, "BadRequestData", "Invalid Subscription",
                           "must be a JSON Object")
        sub_id = self._engine.create_ld(request.tenant, body)
        return Response(201, {"Location": f"{BASE}/subscriptions/{sub_id}"})

    def _subscriptions_get(self, request):
        subs = self._engine.list("ld", request.tenant)
        page, _ = queries.page(subs, request.query)
        return json_response(200, [s.to_json() for s in page], {"Link": LINK})

    def _subscription(self, request, sub_id):
        sub = self._engine.get("ld", request.tenant, sub_id)
        if sub is None:
            raise ld_error(404, "ResourceNotFound",
                           "Subscription not found", sub_id)
        return sub

    def _subscription_get(self, request, sub_id):
        return json_response(200, self._subscription(request, sub_id)
                             .to_json(), {"Link": LINK})

    def _subscription_delete(self, request, sub_id):
        self._subscription(request, sub_id)
        self._engine.delete("ld", request.tenant, sub_id)
        return Response(204)

    def _subscription_patch(self, request, sub_id):
        self._subscription(request, sub_id).patch(self._json_body(request))
        return Response(204)


def _pretty_printed(request, response):
    """Orion-LD's ?prettyPrint=yes&spaces=N: indented JSON plus a newline."""
    if request.query.get("prettyPrint") != "yes" or not response.body:
        return response
    spaces = int(request.query.get("spaces", 2))
    text = json.dumps(json.loads(response.body), indent=spaces,
                      ensure_ascii=False)
    response.body = (text + "\n").encode("utf-8")
    return response


def _batch_entity_id(raw):
    """The entityId Orion-LD reports for a batch item, placeholders
    included."""
    if not isinstance(raw, dict):
        return raw if isinstance(raw, str) else "No Entity::id"
    if "id" not in raw:
        return "No Entity::id"
    return raw["id"] if isinstance(raw["id"], str) else "Invalid Entity::id"
