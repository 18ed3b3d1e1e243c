"""DStreams: events from a receiver line listener (``--line_format=event-json``).

DStreams are deprecated since Spark 3.4 but still shipped in PySpark 4; new
jobs should prefer Structured Streaming (``ngsi_bridge.spark.socket_source``
or the ``ngsi`` data source).
"""
from __future__ import annotations

from typing import Any, Optional

from ngsi_bridge import convert
from ngsi_bridge.view import EventView


def parse_line(line: str, as_view: bool = True) -> Any:
    """One ``event-json`` line as an ``EventView`` (or ``NgsiEvent`` when not ``as_view``)."""
    event = convert.event_from_json(line)
    return EventView(event) if as_view else event


def event_stream(ssc: Any, host: str, port: int, storage_level: Optional[Any] = None,
                 as_view: bool = True) -> Any:
    """A DStream of events read with ``ssc.socketTextStream(host, port)``.

    Each element is an ``EventView`` (``e.entities[0].attrs["t"].value`` is a
    plain value; ``e.proto`` the ``NgsiEvent``), or the ``NgsiEvent`` itself
    with ``as_view=False``. Empty lines are skipped. The listener at
    ``host:port`` must use the ``event-json`` format; for ``fpc`` lines use
    ``ngsi_bridge.compat.fpc``.
    """
    from pyspark.storagelevel import StorageLevel

    lines = ssc.socketTextStream(host, int(port),
                                 storage_level or StorageLevel.MEMORY_AND_DISK_2)
    return lines.filter(lambda line: bool(line.strip())).map(
        lambda line: parse_line(line, as_view))
