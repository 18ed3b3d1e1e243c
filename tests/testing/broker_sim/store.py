"""In-memory state: entities and subscriptions, per flavor and tenant.

One store per simulator. Callers hold `store.lock` for the whole of a
request, so every request sees and leaves a consistent state (the brokers
are not transactional across a batch either, but a test never needs to
observe a half-applied request).
"""
import threading
from dataclasses import dataclass, field

from tests.testing.broker_sim.encoding import now_ms


@dataclass
class Entity:
    """One entity. `attrs` keeps attribute objects in the broker's own
    shape (NGSIv2: type/value/metadata; NGSI-LD: the normalized attribute);
    `attr_times` holds (created, modified) epoch seconds per attribute."""
    id: str
    type: str
    service_path: str = "/"
    attrs: dict = field(default_factory=dict)
    attr_times: dict = field(default_factory=dict)
    created: float = field(default_factory=now_ms)
    modified: float = 0.0

    def __post_init__(self):
        self.modified = self.modified or self.created

    def copy(self):
        return Entity(self.id, self.type, self.service_path,
                      {k: _deep_copy(v) for k, v in self.attrs.items()},
                      dict(self.attr_times), self.created, self.modified)

    def set_attr(self, name, attr, now):
        created = self.attr_times.get(name, (now, now))[0]
        self.attrs[name] = attr
        self.attr_times[name] = (created, now)
        self.modified = now

    def delete_attr(self, name, now):
        del self.attrs[name]
        del self.attr_times[name]
        self.modified = now


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class Store:
    """Thread-safe only under `lock`, which callers take themselves."""

    def __init__(self):
        self.lock = threading.RLock()
        self._entities = {}
        self._subscriptions = {}

    def entities(self, flavor, tenant):
        """The live dict of one tenant: NGSIv2 keys are (service path, id,
        type), NGSI-LD keys are ids. Tenants never share a dict."""
        return self._entities.setdefault((flavor, tenant), {})

    def subscriptions(self, flavor, tenant):
        return self._subscriptions.setdefault((flavor, tenant), {})

    def all_subscriptions(self):
        for (flavor, tenant), subs in list(self._subscriptions.items()):
            for sub in list(subs.values()):
                yield flavor, tenant, sub

    def reset(self):
        with self.lock:
            self._entities.clear()
            self._subscriptions.clear()
