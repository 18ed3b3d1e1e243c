"""Read-only convenience views over protobuf events.

``view(event).entities[0].attrs["temperature"].value`` is a plain Python value
(float, str, bool, None, list or dict), where the protobuf message would give a
``google.protobuf.Value``. Anything not covered falls through to the message
(``view(event).sequence``), and ``.proto`` returns it. Views are cheap wrappers,
computed on access; not thread-safe beyond what the messages are.
"""
from __future__ import annotations

from typing import Any, Mapping

from ngsi_bridge import convert
from ngsi_bridge.v1 import ngsi_pb2


class _ProtoView:
    """What every view shares: it holds ``.proto``, pickles as the serialized
    message, and gives the message's other fields through."""

    __slots__ = ("proto",)
    _message: Any = None  # the protobuf class that ``proto`` is; unpickling parses it

    def __init__(self, proto: Any):
        self.proto = proto

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "proto":  # pickling, copy: no delegation
            raise AttributeError(name)
        return getattr(self.proto, name)

    def __getstate__(self) -> bytes:
        return self.proto.SerializeToString()

    def __setstate__(self, state: bytes) -> None:
        self.proto = self._message.FromString(state)


class AttributeView(_ProtoView):
    """One attribute: ``.type``, ``.value`` (plain), ``.metadata`` (views), ``.proto``."""

    __slots__ = ()
    _message = ngsi_pb2.Attribute

    @property
    def type(self) -> str:
        return self.proto.type

    @property
    def value(self) -> Any:
        """The value as plain Python; for a Relationship its ``object``; None when absent."""
        p = self.proto
        if p.HasField("value"):
            return convert.from_value(p.value)
        if p.HasField("object"):
            return convert.from_value(p.object)
        if p.HasField("language_map"):
            return convert.from_value(p.language_map)
        if p.HasField("vocab"):
            return convert.from_value(p.vocab)
        if p.HasField("json"):
            return convert.from_value(p.json)
        return None

    @property
    def metadata(self) -> dict[str, "AttributeView"]:
        return {k: AttributeView(v) for k, v in self.proto.metadata.items()}

    def to_dict(self) -> Any:
        return convert.attribute_to_dict(self.proto)

    def __repr__(self) -> str:
        return f"AttributeView(type={self.type!r}, value={self.value!r})"


class EntityView(_ProtoView):
    """One entity: ``.id``, ``.type`` (None when the format carries none), ``.attrs``."""

    __slots__ = ()
    _message = ngsi_pb2.Entity

    @property
    def id(self) -> str | None:
        return self.proto.id if self.proto.HasField("id") else None

    @property
    def type(self) -> str | None:
        return self.proto.type if self.proto.HasField("type") else None

    @property
    def attrs(self) -> Mapping[str, AttributeView]:
        return {k: AttributeView(v) for k, v in self.proto.attrs.items()}

    def values(self) -> dict[str, Any]:
        """``{attribute name: plain value}`` (the keyValues rendering of the attributes)."""
        return {k: AttributeView(v).value for k, v in self.proto.attrs.items()}

    def to_dict(self, key_values: bool = False) -> dict[str, Any]:
        return convert.entity_to_dict(self.proto, key_values)

    def __repr__(self) -> str:
        return f"EntityView(id={self.id!r}, type={self.type!r}, attrs={sorted(self.proto.attrs)})"


class EventView(_ProtoView):
    """One event: ``.entities`` as ``EntityView``s; other fields from the message."""

    __slots__ = ()
    _message = ngsi_pb2.NgsiEvent

    @property
    def entities(self) -> list[EntityView]:
        return [EntityView(e) for e in self.proto.entities]

    @property
    def sequence(self) -> int:
        return self.proto.sequence

    def to_dict(self) -> dict[str, Any]:
        return convert.event_to_dict(self.proto)

    def __repr__(self) -> str:
        return (f"EventView(sequence={self.sequence}, service={self.proto.service!r}, "
                f"entities={[e.id for e in self.entities]})")


def view(event: ngsi_pb2.NgsiEvent) -> EventView:
    """The convenience view of an ``NgsiEvent`` (an ``EventView`` is returned as is)."""
    return event if isinstance(event, EventView) else EventView(event)
