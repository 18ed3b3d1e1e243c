"""Structured Streaming over the ``socket`` source with ``event-json`` lines.

    df = read_socket_events(spark, "127.0.0.1", 9998)          # one row per event
    rows = entity_rows(df)                                      # one row per entity
    rows.select("entity_id", F.col("attrs")["temperature"].cast("double"))

``attrs`` maps each attribute name to its value as text: strings as they are,
anything else (numbers, booleans, objects, arrays) as JSON text, so
``.cast("double")`` works on numbers. The full attribute (type, metadata) is
in ``entities`` / ``attributes``. The socket source is not replayable: use the
``ngsi`` data source when a restarted query must not lose events.
"""
from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (ArrayType, BooleanType, IntegerType, LongType, MapType,
                               StringType, StructField, StructType, TimestampType)

_META = StructType([StructField("type", StringType()), StructField("value", StringType())])
ATTRIBUTE_SCHEMA = StructType([
    StructField("type", StringType()),
    StructField("value", StringType()),       # raw JSON text unless a JSON string
    StructField("object", StringType()),
    StructField("metadata", MapType(StringType(), _META)),
    StructField("observedAt", StringType()),
    StructField("unitCode", StringType()),
    StructField("datasetId", StringType()),
    StructField("bare", BooleanType()),
])
ENTITY_SCHEMA = StructType([
    StructField("id", StringType()),
    StructField("type", StringType()),
    StructField("types", ArrayType(StringType())),
    StructField("attrs", MapType(StringType(), ATTRIBUTE_SCHEMA)),
    StructField("deleted", BooleanType()),
])
# The event-json line (proto3 JSON mapping of NgsiEvent); uint64 is a string in JSON.
EVENT_JSON_SCHEMA = StructType([
    StructField("sequence", StringType()),
    StructField("receivedAt", StringType()),
    StructField("notifiedAt", StringType()),
    StructField("subscriptionId", StringType()),
    StructField("service", StringType()),
    StructField("servicePath", StringType()),
    StructField("correlator", StringType()),
    StructField("flavor", StringType()),
    StructField("format", StringType()),
    StructField("entities", ArrayType(ENTITY_SCHEMA)),
    StructField("contentType", StringType()),
    StructField("body", StringType()),
])
# One row per entity: shared by entity_rows() and the `ngsi` data source.
ENTITY_ROW_SCHEMA = StructType([
    StructField("sequence", LongType(), False),
    StructField("received_at", TimestampType()),
    StructField("notified_at", TimestampType()),
    StructField("subscription_id", StringType()),
    StructField("service", StringType()),
    StructField("service_path", StringType()),
    StructField("correlator", StringType()),
    StructField("flavor", StringType()),
    StructField("format", StringType()),
    StructField("entity_index", IntegerType()),
    StructField("entity_id", StringType()),
    StructField("entity_type", StringType()),
    StructField("attrs", MapType(StringType(), StringType())),
    StructField("entity_json", StringType()),
])


def parse_event_json(lines: DataFrame, column: str = "value") -> DataFrame:
    """Parses ``event-json`` text in ``column`` into one row per event with
    ``sequence`` (long), ``received_at``/``notified_at`` (timestamp), tenancy,
    ``flavor``, ``format`` and ``entities`` (array of structs), plus ``line``."""
    parsed = lines.select(F.col(column).alias("line"),
                          F.from_json(F.col(column), EVENT_JSON_SCHEMA).alias("e"))
    return parsed.select(
        F.col("e.sequence").cast("long").alias("sequence"),
        F.to_timestamp("e.receivedAt").alias("received_at"),
        F.to_timestamp("e.notifiedAt").alias("notified_at"),
        F.col("e.subscriptionId").alias("subscription_id"),
        F.coalesce(F.col("e.service"), F.lit("")).alias("service"),
        F.coalesce(F.col("e.servicePath"), F.lit("")).alias("service_path"),
        F.col("e.correlator").alias("correlator"),
        F.col("e.flavor").alias("flavor"),
        F.col("e.format").alias("format"),
        F.coalesce(F.col("e.entities"), F.array().cast(ArrayType(ENTITY_SCHEMA))).alias("entities"),
        F.col("e.body").alias("body"),
        F.col("line"))


def entity_rows(events: DataFrame) -> DataFrame:
    """One row per entity of ``parse_event_json`` output, in ``ENTITY_ROW_SCHEMA``
    (``attrs``: name -> value text; ``entity_json``: the entity as JSON)."""
    exploded = events.select("*", F.posexplode("entities").alias("entity_index", "entity"))
    return exploded.select(
        "sequence", "received_at", "notified_at", "subscription_id", "service", "service_path",
        "correlator", "flavor", "format", "entity_index",
        F.col("entity.id").alias("entity_id"),
        F.col("entity.type").alias("entity_type"),
        F.map_from_entries(F.transform(
            F.map_entries(F.coalesce(F.col("entity.attrs"),
                                     F.create_map().cast(MapType(StringType(), ATTRIBUTE_SCHEMA)))),
            lambda kv: F.struct(kv["key"].alias("key"),
                                F.coalesce(kv["value"]["value"], kv["value"]["object"]).alias("value")),
        )).alias("attrs"),
        F.to_json("entity").alias("entity_json"))


def read_socket_events(spark: SparkSession, host: str, port: int, **options: Any) -> DataFrame:
    """``spark.readStream.format("socket")`` on a receiver line listener, parsed by
    ``parse_event_json``. The listener must use the ``event-json`` format."""
    lines = (spark.readStream.format("socket").option("host", host)
             .option("port", int(port)).options(**options).load())
    return parse_event_json(lines)
