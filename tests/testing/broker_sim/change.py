"""The description of one entity change that the APIs hand to the
subscription engine, so that matching and rendering never look at the
request payload again."""
from dataclasses import dataclass, field


@dataclass
class Change:
    flavor: str  # "v2" or "ld"
    tenant: str
    alteration: str  # entityCreate, entityUpdate or entityDelete
    entity: object  # store.Entity after the change (before, for deletes)
    previous: object = None  # store.Entity before the change, if any
    request_attrs: list = field(default_factory=list)
    changed: set = field(default_factory=set)
    action_types: dict = field(default_factory=dict)
    request: object = None  # http_types.Request that caused it
    deleted_at: float = None
