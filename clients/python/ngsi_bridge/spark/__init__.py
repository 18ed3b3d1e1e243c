"""Spark helpers for ngsi-bridge (PySpark 4).

- ``event_stream(ssc, host, port)``: a DStream of events from a receiver line
  listener in ``event-json`` format (``ngsi_bridge.spark.dstream``).
- ``read_socket_events(spark, host, port)`` / ``parse_event_json(df)`` /
  ``entity_rows(df)``: Structured Streaming over the ``socket`` source
  (``ngsi_bridge.spark.socket_source``).
- ``register(spark)`` then ``spark.readStream.format("ngsi")``: the gRPC
  streaming data source whose offsets are receiver sequences
  (``ngsi_bridge.spark.datasource``).
- ``ReplierWriter``: ``foreachPartition`` / ``foreachBatch`` write-back in
  batches (``ngsi_bridge.spark.writer``).
- ``LocalStandaloneCluster``: a loopback standalone cluster from the pip
  distribution (``ngsi_bridge.spark.local_cluster``).

Importing this package does not import pyspark; each module does.
"""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # lazy: keep `import ngsi_bridge.spark` cheap
    if name == "event_stream":
        from ngsi_bridge.spark.dstream import event_stream
        return event_stream
    if name in ("read_socket_events", "parse_event_json", "entity_rows", "EVENT_JSON_SCHEMA",
                "ENTITY_ROW_SCHEMA"):
        from ngsi_bridge.spark import socket_source
        return getattr(socket_source, name)
    if name in ("NgsiDataSource", "register"):
        from ngsi_bridge.spark import datasource
        return getattr(datasource, name)
    if name in ("ReplierWriter", "row_to_entity"):
        from ngsi_bridge.spark import writer
        return getattr(writer, name)
    if name == "LocalStandaloneCluster":
        from ngsi_bridge.spark.local_cluster import LocalStandaloneCluster
        return LocalStandaloneCluster
    raise AttributeError(f"module 'ngsi_bridge.spark' has no attribute {name!r}")
