"""Subscriptions of both flavors: creation, matching a Change, delivery
state as the brokers report it, and the engine that turns changes into
notifications for the notifier.

Delivery state: NGSIv2 counts any HTTP answer as delivered, NGSI-LD only a
2xx. A subscription failing MAX_CONSECUTIVE_FAILURES times in a row stops
notifying: NGSI-LD reports it "paused" (like Orion-LD), NGSIv2 "failed".
A PATCH with status "active" / isActive true resumes it.

Timing members as the brokers echo them: NGSIv2 `expires` as ISO 8601 with
".000Z" (Orion keeps seconds), absent when permanent (a PATCH with "" makes
it so), `throttling` only when above 0 (a PATCH with 0 removes it). NGSI-LD
`expiresAt` (the older `expires` is taken too) to the millisecond,
`throttling` when above 0; a PATCH with null removes either.
"""
import re
import time
import uuid

from tests.testing.broker_sim import (ld_model, ld_notification, queries,
                                      v2_model, v2_notification)
from tests.testing.broker_sim.encoding import iso_ms, parse_iso
from tests.testing.broker_sim.errors import bad_request, ld_error
from tests.testing.broker_sim.v2_notification import (FLAT_FORMATS,
                                                      WRAPPED_FORMATS)

MAX_CONSECUTIVE_FAILURES = 3
DEFAULT_V2_ALTERATIONS = ("entityCreate", "entityChange")


def v2_timing(body):
    """Checks and normalises `expires` and `throttling` in a v2 subscription
    body (create or PATCH) the way Orion stores them: `expires` as whole
    seconds, rendered back as ISO 8601 with ".000Z"; "" makes the
    subscription permanent (the member disappears). `throttling` is an
    integer of seconds; 0 removes it. Returns the members to apply, with
    None meaning "remove"."""
    out = {}
    if "expires" in body:
        expires = body["expires"]
        if not isinstance(expires, str):
            raise bad_request("expires is not a string")
        if expires == "":
            out["expires"] = None
        else:
            epoch = parse_iso(expires)
            if epoch is None:
                raise bad_request("expires has an invalid format")
            out["expires"] = iso_ms(int(epoch))
    if "throttling" in body:
        throttling = body["throttling"]
        if isinstance(throttling, bool) or not isinstance(throttling, int):
            raise bad_request("throttling is not an int")
        if throttling < 0:
            raise bad_request("throttling is negative")
        out["throttling"] = throttling or None
    return out


def ld_timing(body):
    """The same for NGSI-LD: `expiresAt` (Orion-LD also takes the older name
    `expires`) kept to the millisecond, `throttling` a non-negative number
    of seconds; null (in a PATCH) or 0 removes the member."""
    out = {}
    for name in ("expires", "expiresAt"):
        if name not in body:
            continue
        value = body[name]
        if value is None:
            out["expiresAt"] = None
            continue
        epoch = parse_iso(value)
        if epoch is None:
            raise ld_error(400, "BadRequestData", "Invalid Subscription",
                           f"{name}: not a DateTime: {value}")
        out["expiresAt"] = iso_ms(epoch)
    if "throttling" in body:
        throttling = body["throttling"]
        if throttling is not None and (
                isinstance(throttling, bool) or
                not isinstance(throttling, (int, float)) or throttling < 0):
            raise ld_error(400, "BadRequestData", "Invalid Subscription",
                           "throttling: must be a Number >= 0")
        out["throttling"] = throttling or None
    return out


def _apply(target, members):
    for key, value in members.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


class Subscription:
    """One subscription and its delivery counters. Guarded by the store
    lock, which the engine and the notifier take around every access."""

    flavor = None

    def __init__(self, sub_id, body, service_path="/#"):
        self.id = sub_id
        self.body = body
        self.service_path = service_path
        self.times_sent = 0
        self.consecutive_failures = 0
        self.last_notification = None
        self.last_success = None
        self.last_success_code = None
        self.last_failure = None
        self.last_failure_reason = None
        self.paused = False

    def record(self, status_code, reason):
        """Notes one delivery: `status_code` is the HTTP answer or None
        when there was none (`reason` then says why)."""
        now = time.time()
        self.times_sent += 1
        self.last_notification = now
        if self.delivered(status_code):
            self.last_success, self.last_success_code = now, status_code
            self.consecutive_failures = 0
            return
        self.last_failure = now
        self.last_failure_reason = reason or f"HTTP {status_code}"
        self.consecutive_failures += 1
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            self.paused = True

    def resume(self):
        self.paused = False
        self.consecutive_failures = 0

    expires_member = "expires"

    def _expired(self):
        expires = parse_iso(self.body.get(self.expires_member))
        return expires is not None and expires < time.time()

    def _entity_selected(self, entity, selectors):
        for selector in selectors or [{}]:
            if "type" in selector and selector["type"] != entity.type:
                continue
            if "typePattern" in selector and not re.search(
                    selector["typePattern"], entity.type):
                continue
            if "id" in selector and selector["id"] != entity.id:
                continue
            if "idPattern" in selector and not re.search(
                    selector["idPattern"], entity.id):
                continue
            return True
        return False


class V2Subscription(Subscription):
    flavor = "v2"

    @property
    def notification(self):
        return self.body.get("notification", {})

    def status(self):
        if self.body.get("status") == "inactive":
            return "inactive"
        if self._expired():
            return "expired"
        return "failed" if self.consecutive_failures else "active"

    def delivered(self, status_code):
        return status_code is not None

    def patch(self, body):
        timing = v2_timing(body)
        if body.get("status") == "active":
            self.resume()
        self.body.update({k: v for k, v in body.items() if k not in timing})
        _apply(self.body, timing)

    def matches(self, change):
        if self.paused or self.status() in ("inactive", "expired"):
            return False
        subject = self.body.get("subject", {})
        if not self._entity_selected(change.entity, subject.get("entities")):
            return False
        if not queries.service_path_matches(self.service_path,
                                  change.entity.service_path):
            return False
        condition = subject.get("condition", {})
        alterations = condition.get("alterationTypes") or \
            DEFAULT_V2_ALTERATIONS
        if not _alteration_kinds(change) & set(alterations):
            return False
        watched = condition.get("attrs") or []
        if watched and change.alteration != "entityDelete":
            touched = (change.entity.attrs if change.alteration ==
                       "entityCreate" else change.request_attrs)
            if not set(watched) & set(touched):
                return False
        expression = condition.get("expression", {}).get("q")
        if expression:
            return queries.parse_q(expression, v2_model.q_value)(
                change.entity)
        return True

    def render(self, change):
        return v2_notification.render(self, change)

    def to_json(self):
        notification = dict(self.notification)
        notification.setdefault("attrs", [])
        notification.setdefault("onlyChangedAttrs", False)
        notification.setdefault("attrsFormat", "normalized")
        notification.setdefault("covered", False)
        notification["timesSent"] = self.times_sent
        for key, value in (("lastNotification", self.last_notification),
                           ("lastSuccess", self.last_success),
                           ("lastFailure", self.last_failure)):
            if value is not None:
                notification[key] = iso_ms(value)
        if self.last_success_code is not None:
            notification["lastSuccessCode"] = self.last_success_code
        if self.last_failure_reason is not None:
            notification["lastFailureReason"] = self.last_failure_reason
        notification["failsCounter"] = self.consecutive_failures
        out = {"id": self.id}
        if "description" in self.body:
            out["description"] = self.body["description"]
        # Orion's order; expires only when not permanent, throttling only
        # when above 0.
        if "expires" in self.body:
            out["expires"] = self.body["expires"]
        out["status"] = self.status()
        out["subject"] = self.body.get("subject", {})
        out["notification"] = notification
        if self.body.get("throttling"):
            out["throttling"] = self.body["throttling"]
        return out


class LdSubscription(Subscription):
    flavor = "ld"
    expires_member = "expiresAt"

    def is_active(self):
        return self.body.get("isActive", True) and not self.paused

    def delivered(self, status_code):
        return status_code is not None and 200 <= status_code < 300

    def patch(self, body):
        timing = ld_timing(body)
        if body.get("isActive") is True:
            self.resume()
        # NGSI-LD PATCH: a member set to null is removed.
        _apply(self.body, {k: v for k, v in body.items()
                           if k not in ("expires", "expiresAt", "throttling")})
        _apply(self.body, timing)

    def matches(self, change):
        if not self.is_active() or self._expired():
            return False
        if not self._entity_selected(change.entity,
                                     self.body.get("entities")):
            return False
        if change.alteration == "entityDelete":
            triggers = self.body.get("notificationTrigger", [])
            return "entityDeleted" in triggers
        watched = self.body.get("watchedAttributes") or []
        if watched:
            touched = (change.entity.attrs if change.alteration ==
                       "entityCreate" else change.request_attrs)
            if not set(watched) & set(touched):
                return False
        expression = self.body.get("q")
        if expression:
            return queries.parse_q(expression, ld_model.q_value, ";&")(
                change.entity)
        return True

    def render(self, change):
        return ld_notification.render(self, change)

    def to_json(self):
        out = {k: v for k, v in self.body.items() if k != "@context"}
        out["id"] = self.id
        out["type"] = "Subscription"
        out["isActive"] = bool(self.body.get("isActive", True)) and \
            not self.paused
        out["status"] = ("paused" if self.paused or not out["isActive"]
                         else "expired" if self._expired() else "active")
        notification = dict(out.get("notification", {}))
        notification["timesSent"] = self.times_sent
        for key, value in (("lastNotification", self.last_notification),
                           ("lastSuccess", self.last_success),
                           ("lastFailure", self.last_failure)):
            if value is not None:
                notification[key] = iso_ms(value)
        notification["consecutiveErrors"] = self.consecutive_failures
        if self.last_failure_reason is not None:
            notification["lastErrorReason"] = self.last_failure_reason
        notification["status"] = ("failed" if self.consecutive_failures
                                   else "ok")
        out["notification"] = notification
        return out



def _alteration_kinds(change):
    if change.alteration == "entityUpdate":
        return {"entityUpdate", "entityChange"} if change.changed \
            else {"entityUpdate"}
    return {change.alteration}


class SubscriptionEngine:
    """Owns subscription CRUD and fans changes out to the notifier.
    Callers hold the store lock."""

    def __init__(self, store, notifier):
        self._store = store
        self._notifier = notifier

    def create_v2(self, tenant, service_path, body):
        if not isinstance(body, dict):
            raise bad_request("subscription must be a JSON object")
        notification = body.get("notification")
        if not isinstance(notification, dict) or not (
                "http" in notification or "httpCustom" in notification):
            raise bad_request("http or httpCustom is missing")
        fmt = notification.get("attrsFormat", "normalized")
        if fmt not in WRAPPED_FORMATS and fmt not in FLAT_FORMATS:
            raise bad_request(f"invalid attrsFormat: {fmt}")
        timing = v2_timing(body)
        body = {k: v for k, v in body.items() if k not in timing}
        _apply(body, timing)
        sub_id = uuid.uuid4().hex[:24]  # Orion ids are Mongo ObjectIds
        self._store.subscriptions("v2", tenant)[sub_id] = V2Subscription(
            sub_id, body, service_path)
        return sub_id

    def create_ld(self, tenant, body):
        subs = self._store.subscriptions("ld", tenant)
        sub_id = body.get("id") or f"urn:ngsi-ld:subscription:{uuid.uuid4()}"
        if sub_id in subs:
            raise ld_error(409, "AlreadyExists", "Subscription already exists",
                           sub_id)
        endpoint = body.get("notification", {}).get("endpoint", {})
        if not isinstance(endpoint.get("uri"), str):
            raise ld_error(400, "BadRequestData", "Invalid Subscription",
                           "notification::endpoint::uri is missing")
        timing = ld_timing(body)
        body = {k: v for k, v in body.items()
                if k not in ("expires", "expiresAt", "throttling")}
        _apply(body, timing)
        subs[sub_id] = LdSubscription(sub_id, body)
        return sub_id

    def list(self, flavor, tenant):
        return list(self._store.subscriptions(flavor, tenant).values())

    def get(self, flavor, tenant, sub_id):
        return self._store.subscriptions(flavor, tenant).get(sub_id)

    def delete(self, flavor, tenant, sub_id):
        return self._store.subscriptions(flavor, tenant).pop(sub_id, None)

    def publish(self, change):
        """Renders one notification per matching subscription, now (so it
        shows the entity as this change left it), and queues it."""
        for sub in self.list(change.flavor, change.tenant):
            if sub.matches(change):
                method, url, headers, body = sub.render(change)
                if sub.flavor == "v2":
                    headers["Fiware-Correlator"] = \
                        change.request.next_correlator()
                self._notifier.enqueue(sub, method, url, headers, body)
