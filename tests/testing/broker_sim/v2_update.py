"""NGSIv2 write semantics shared by the entity endpoints and /v2/op/update:
what each action does to an entity, and Orion's free-text error for the
attributes and entities it could not touch."""
from dataclasses import dataclass, field

from tests.testing.broker_sim.errors import v2_error


@dataclass
class Outcome:
    """What one action did to one entity."""
    action_types: dict = field(default_factory=dict)  # attr -> actionType
    changed: set = field(default_factory=set)  # attrs whose content changed
    missing: list = field(default_factory=list)  # "do not exist" attrs
    existing: list = field(default_factory=list)  # "already exist" attrs

    @property
    def touched(self):
        return bool(self.action_types)


def apply(entity, action, attrs, now):
    """Applies `action` (append, appendStrict, update, replace, delete) of
    parsed `attrs` to `entity` in place."""
    outcome = Outcome()
    if action == "replace":
        for name in list(entity.attrs):
            if name not in attrs:
                entity.delete_attr(name, now)
                outcome.changed.add(name)
    for name, attr in attrs.items():
        exists = name in entity.attrs
        if action == "delete":
            if exists:
                entity.delete_attr(name, now)
                outcome.action_types[name] = "delete"
                outcome.changed.add(name)
            else:
                outcome.missing.append(name)
            continue
        if action == "update" and not exists:
            outcome.missing.append(name)
            continue
        if action == "appendStrict" and exists:
            outcome.existing.append(name)
            continue
        if not exists or entity.attrs[name] != attr:
            outcome.changed.add(name)
        entity.set_attr(name, attr, now)
        outcome.action_types[name] = "update" if exists else "append"
    if not outcome.touched and action in ("update", "replace"):
        entity.modified = now
    return outcome


def entity_ref(entity_id, entity_type):
    return f"{entity_id}/{entity_type}" if entity_type else entity_id


class FailureReport:
    """Collects per-entity failures of one request and raises Orion's
    answer: 404 when every entity was missing, 422 PartialUpdate when
    something was written, 422 Unprocessable when nothing was."""

    def __init__(self):
        self._missing = []
        self._existing = []
        self._missing_entities = 0
        self._entities = 0
        self._touched = False

    def add(self, ref, outcome):
        self._entities += 1
        self._touched |= outcome.touched
        if outcome.missing:
            self._missing.append(f"{ref} - [ {', '.join(outcome.missing)} ]")
        if outcome.existing:
            self._existing.append(
                f"{ref} - [ {', '.join(outcome.existing)} ]")

    def add_written(self):
        """An entity the action created or deleted whole."""
        self._entities += 1
        self._touched = True

    def add_missing_entity(self, ref):
        # Orion writes " - " before the first entry only.
        self._entities += 1
        self._missing_entities += 1
        separator = " " if self._missing else " - "
        self._missing.append(f"{ref}{separator}[entity itself]")

    def raise_if_failed(self):
        if not self._missing and not self._existing:
            return
        if self._existing:
            description = ("one or more of the attributes in the request "
                           "already exist: " + ", ".join(self._existing))
        else:
            description = "do not exist: " + ", ".join(self._missing)
        if self._missing_entities == self._entities:
            raise v2_error(404, "NotFound", description)
        error = "PartialUpdate" if self._touched else "Unprocessable"
        raise v2_error(422, error, description)
