"""NGSIv2 endpoints (/v2/entities..., /v2/op/update, /v2/subscriptions)
with Orion's status codes, headers and error bodies."""
import re

from tests.testing.broker_sim import queries, v2_model, v2_update
from tests.testing.broker_sim.change import Change
from tests.testing.broker_sim.encoding import dumps, loads, now_ms
from tests.testing.broker_sim.errors import ApiError, bad_request, v2_error
from tests.testing.broker_sim.http_types import Response
from tests.testing.broker_sim.validation import (v2_service_path, v2_tenant,
                                                 has_forbidden_chars)

ACTIONS = ("append", "appendStrict", "update", "delete", "replace")
NOT_FOUND = ("NotFound",
             "The requested entity has not been found. Check type and id")
_ROUTES = [
    (r"/v2/entities", "entities"),
    (r"/v2/entities/([^/]+)", "entity"),
    (r"/v2/entities/([^/]+)/attrs", "entity_attrs"),
    (r"/v2/entities/([^/]+)/attrs/([^/]+)", "attr"),
    (r"/v2/entities/([^/]+)/attrs/([^/]+)/value", "attr_value"),
    (r"/v2/op/update", "op_update"),
    (r"/v2/subscriptions", "subscriptions"),
    (r"/v2/subscriptions/([^/]+)", "subscription"),
]


def json_response(status, body, headers=None):
    headers = dict(headers or {})
    headers["Content-Type"] = "application/json"
    return Response(status, headers, dumps(body))



class V2Api:
    """Serves /v2. Runs under the store lock taken by `handle`."""

    def __init__(self, store, engine):
        self._store = store
        self._engine = engine

    def handle(self, request):
        for pattern, name in _ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match:
                break
        else:
            raise v2_error(400, "BadRequest", "service not found")
        self._check_headers(request)
        handler = getattr(self, f"_{name}_{request.method.lower()}", None)
        if handler is None:
            raise v2_error(405, "MethodNotAllowed",
                           "method not allowed for this resource")
        with self._store.lock:
            return handler(request, *match.groups())

    # --- request checks, in the order Orion makes them -------------------

    def _check_headers(self, request):
        request.tenant = v2_tenant(request.headers)
        request.service_path = v2_service_path(
            request.headers, for_query=request.method == "GET")
        accept = request.headers.get("Accept")
        if accept and not any(t in accept for t in (
                "application/json", "*/*", "application/*", "text/plain")):
            raise v2_error(406, "NotAcceptable",
                           "no acceptable mime-type in accept header")
        if request.method in ("POST", "PUT", "PATCH"):
            if not request.body:
                raise v2_error(411, "ContentLengthRequired",
                               "Zero/No Content-Length in PUT/POST/PATCH "
                               "request")
            content_type = request.headers.get("Content-Type",
                                               "application/json")
            mime = content_type.split(";")[0].strip().lower()
            if mime not in ("application/json", "text/plain"):
                raise v2_error(415, "UnsupportedMediaType",
                               f"not supported content type: {content_type}")

    def _json_body(self, request):
        try:
            return loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise v2_error(400, "ParseError",
                           "Errors found in incoming JSON buffer")

    def _entities(self, request):
        return self._store.entities("v2", request.tenant)

    def _find(self, request, entity_id, entity_type=None):
        """The entity at the request's service path, or raises 404."""
        for key, entity in self._entities(request).items():
            if (entity.id == entity_id and
                    entity_type in (None, entity.type) and
                    queries.service_path_matches(request.service_path,
                                          entity.service_path)):
                return key, entity
        raise v2_error(404, *NOT_FOUND)

    def _publish(self, request, alteration, entity, previous=None,
                 request_attrs=(), outcome=None):
        self._engine.publish(Change(
            "v2", request.tenant, alteration, entity.copy(),
            previous.copy() if previous else None, list(request_attrs),
            outcome.changed if outcome else set(request_attrs),
            outcome.action_types if outcome else
            {name: "append" for name in request_attrs}, request))

    # --- /v2/entities -----------------------------------------------------

    def _entities_post(self, request):
        options = request.options()
        now = now_ms()
        entity_id, entity_type, attrs = v2_model.parse_entity(
            self._json_body(request), "keyValues" in options,
            request.service_path, now)
        location = {"Location": f"/v2/entities/{entity_id}?type={entity_type}"}
        try:
            key, entity = self._find(request, entity_id, entity_type)
        except ApiError:
            entity = None
        if entity is not None and "upsert" not in options:
            raise v2_error(422, "Unprocessable", "Already Exists")
        if entity is not None:
            previous = entity.copy()
            outcome = v2_update.apply(entity, "append", attrs, now)
            self._publish(request, "entityUpdate", entity, previous, attrs,
                          outcome)
            return Response(204, location)
        entity = v2_model.new_entity(entity_id, entity_type,
                                     request.service_path, attrs, now)
        self._entities(request)[
            (request.service_path, entity_id, entity.type)] = entity
        self._publish(request, "entityCreate", entity, None, attrs)
        # Orion answers an upsert that created the entity with 204, too.
        status = 204 if "upsert" in options else 201
        return Response(status, location)

    def _entities_get(self, request):
        query = request.query
        ids = query["id"].split(",") if "id" in query else None
        types = query["type"].split(",") if "type" in query else None
        try:
            predicate = (queries.parse_q(query["q"], v2_model.q_value)
                         if "q" in query else None)
        except ValueError as error:
            raise bad_request(f"invalid query expression: {error}")
        matched = [
            e for e in self._entities(request).values()
            if queries.service_path_matches(request.service_path,
                                            e.service_path)
            and (types is None or e.type in types)
            and queries.match_id(e.id, ids, query.get("idPattern"))
            and (predicate is None or predicate(e))]
        page, total = queries.page(matched, query)
        headers = ({"Fiware-Total-Count": str(total)}
                   if "count" in request.options() else {})
        return json_response(200, [self._render(request, e) for e in page],
                             headers)

    def _render(self, request, entity):
        options = request.options()
        wanted = [a for a in request.query.get("attrs", "").split(",") if a]
        for builtin in ("dateCreated", "dateModified"):
            if builtin in options and builtin not in wanted:
                wanted += (["*"] if not wanted else []) + [builtin]
        fmt = ("keyValues" if "keyValues" in options else
               "values" if "values" in options else "normalized")
        return v2_model.render(entity.id, entity.type,
                               v2_model.select_attrs(entity, wanted), fmt)

    # --- /v2/entities/{id} --------------------------------------------------

    def _entity_get(self, request, entity_id):
        _, entity = self._find(request, entity_id, request.query.get("type"))
        return json_response(200, self._render(request, entity))

    def _entity_delete(self, request, entity_id):
        key, entity = self._find(request, entity_id, request.query.get("type"))
        del self._entities(request)[key]
        self._publish(request, "entityDelete", entity, entity)
        return Response(204)

    # --- /v2/entities/{id}/attrs --------------------------------------------

    def _write_attrs(self, request, entity_id, action):
        entity_type = request.query.get("type")
        attrs = v2_model.parse_attrs(self._json_body(request),
                                     "keyValues" in request.options())
        _, entity = self._find(request, entity_id, entity_type)
        previous = entity.copy()
        outcome = v2_update.apply(entity, action, attrs, now_ms())
        if outcome.touched or action == "replace":
            self._publish(request, "entityUpdate", entity, previous, attrs,
                          outcome)
        report = v2_update.FailureReport()
        report.add(v2_update.entity_ref(entity_id, entity_type), outcome)
        report.raise_if_failed()
        return Response(204)

    def _entity_attrs_post(self, request, entity_id):
        strict = "append" in request.options()
        return self._write_attrs(request, entity_id,
                                 "appendStrict" if strict else "append")

    def _entity_attrs_patch(self, request, entity_id):
        return self._write_attrs(request, entity_id, "update")

    def _entity_attrs_put(self, request, entity_id):
        return self._write_attrs(request, entity_id, "replace")

    def _entity_attrs_get(self, request, entity_id):
        _, entity = self._find(request, entity_id, request.query.get("type"))
        rendered = self._render(request, entity)
        return json_response(200, {k: v for k, v in rendered.items()
                                   if k not in ("id", "type")})

    def _attr_get(self, request, entity_id, name):
        _, entity = self._find(request, entity_id, request.query.get("type"))
        if name not in entity.attrs:
            raise v2_error(404, "NotFound",
                           "The entity does not have such an attribute")
        return json_response(200, entity.attrs[name])

    def _attr_value_get(self, request, entity_id, name):
        _, entity = self._find(request, entity_id, request.query.get("type"))
        if name not in entity.attrs:
            raise v2_error(404, "NotFound",
                           "The entity does not have such an attribute")
        return json_response(200, entity.attrs[name]["value"])

    def _attr_value_put(self, request, entity_id, name):
        mime = request.headers.get("Content-Type", "").split(";")[0].strip()
        value = self._text_value(request) if mime == "text/plain" else \
            self._json_body(request)
        _, entity = self._find(request, entity_id, request.query.get("type"))
        if name not in entity.attrs:
            raise v2_error(404, "NotFound",
                           "The entity does not have such an attribute")
        attr = dict(entity.attrs[name])
        if attr["type"] != "TextUnrestricted" and has_forbidden_chars(value):
            raise bad_request("Invalid characters in attribute value")
        previous = entity.copy()
        attr["value"] = value
        outcome = v2_update.apply(entity, "update", {name: attr}, now_ms())
        self._publish(request, "entityUpdate", entity, previous, [name],
                      outcome)
        return Response(204)

    def _text_value(self, request):
        """text/plain values: bare numbers, booleans and null, or a quoted
        string, as Orion reads them."""
        text = request.body.decode("utf-8").strip()
        try:
            value = loads(text.encode())
        except ValueError:
            raise bad_request("Missing citation-mark at start of string")
        if isinstance(value, (dict, list)):
            raise bad_request("invalid text/plain value")
        return value

    # --- /v2/op/update ------------------------------------------------------

    def _op_update_post(self, request):
        body = self._json_body(request)
        if not isinstance(body, dict) or "actionType" not in body:
            raise bad_request("Invalid JSON payload, mandatory field "
                              "/actionType/ not found")
        action = body["actionType"]
        if action not in ACTIONS:
            raise bad_request(f"invalid update action type: '{action}'")
        key_values = "keyValues" in request.options()
        now = now_ms()
        # Parse everything first: one bad entity rejects the whole batch.
        parsed = [v2_model.parse_entity(raw, key_values, request.service_path,
                                        now, default_type=False)
                  for raw in body.get("entities", [])]
        report = v2_update.FailureReport()
        for entity_id, entity_type, attrs in parsed:
            self._op_one(request, action, entity_id, entity_type, attrs, now,
                         report)
        report.raise_if_failed()
        return Response(204)

    def _op_one(self, request, action, entity_id, entity_type, attrs, now,
                report):
        ref = v2_update.entity_ref(entity_id, entity_type)
        try:
            key, entity = self._find(request, entity_id, entity_type)
        except ApiError:
            if action in ("append", "appendStrict"):
                entity = v2_model.new_entity(entity_id, entity_type,
                                             request.service_path, attrs, now)
                self._entities(request)[
                    (request.service_path, entity_id, entity.type)] = entity
                self._publish(request, "entityCreate", entity, None, attrs)
                report.add_written()
            else:
                report.add_missing_entity(ref)
            return
        if action == "delete" and not attrs:
            del self._entities(request)[key]
            self._publish(request, "entityDelete", entity, entity)
            report.add_written()
            return
        previous = entity.copy()
        outcome = v2_update.apply(entity, action, attrs, now)
        if outcome.touched or action == "replace":
            self._publish(request, "entityUpdate", entity, previous, attrs,
                          outcome)
        report.add(ref, outcome)

    # --- /v2/subscriptions --------------------------------------------------

    def _subscriptions_post(self, request):
        # Subscriptions cover the whole tree unless a service path is given.
        service_path = v2_service_path(request.headers, for_query=True)
        sub_id = self._engine.create_v2(request.tenant, service_path,
                                        self._json_body(request))
        return Response(201, {"Location": f"/v2/subscriptions/{sub_id}"})

    def _subscriptions_get(self, request):
        subs = self._engine.list("v2", request.tenant)
        page, total = queries.page(subs, request.query)
        headers = ({"Fiware-Total-Count": str(total)}
                   if "count" in request.options() else {})
        return json_response(200, [s.to_json() for s in page], headers)

    def _subscription(self, request, sub_id):
        sub = self._engine.get("v2", request.tenant, sub_id)
        if sub is None:
            raise v2_error(404, "NotFound", "The requested subscription has "
                                            "not been found. Check id")
        return sub

    def _subscription_get(self, request, sub_id):
        return json_response(200, self._subscription(request, sub_id).to_json())

    def _subscription_delete(self, request, sub_id):
        self._subscription(request, sub_id)
        self._engine.delete("v2", request.tenant, sub_id)
        return Response(204)

    def _subscription_patch(self, request, sub_id):
        self._subscription(request, sub_id).patch(self._json_body(request))
        return Response(204)

