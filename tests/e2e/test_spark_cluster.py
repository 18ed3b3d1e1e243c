"""A Spark standalone cluster on loopback (one master, two workers, from the
pip distribution's spark-class) runs a Structured Streaming job that reads
events from ngsi-receiver through the `ngsi` source and writes predictions
back through ngsi-replier: every entity update made at the broker simulator
comes back with its prediction attributes."""
from __future__ import annotations

import os
import sys

import pytest

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.e2e]

from tests.e2e.spark_support import ROOT, require_replier, wait_until  # noqa: E402
from ngsi_bridge import EventSubscriber  # noqa: E402
from ngsi_bridge.demo.stack import Stack  # noqa: E402

ENTITY_TYPE = "Furnace"
COUNT = 24


@pytest.fixture(scope="module")
def cluster(stack_binaries):
    from ngsi_bridge.spark.local_cluster import LocalStandaloneCluster
    from ngsi_bridge.spark.session import package_path
    env = {"PYTHONPATH": os.pathsep.join([package_path(), str(ROOT)]),
           "PYSPARK_PYTHON": sys.executable}
    with LocalStandaloneCluster(workers=2, worker_cores=1, worker_memory="640m", env=env) as c:
        yield c


def test_cluster_job_writes_a_prediction_for_every_update(cluster, tmp_path):
    from pyspark.sql import functions as F
    from ngsi_bridge.spark.datasource import register
    from ngsi_bridge.spark.session import spark_session
    from ngsi_bridge.spark.writer import ReplierWriter

    spark = spark_session(cluster.master_url, "e2e-standalone-cluster", conf={
        "spark.executor.cores": "1", "spark.cores.max": "2", "spark.executor.memory": "512m"})
    try:
        wait_until(lambda: spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1 >= 2,
                   60, "two executors, one per worker")
        register(spark)
        with Stack() as stack:
            require_replier(stack, lambda client: client.list_brokers())
            broker = stack.broker
            broker.create_subscription(stack.notify_url, ENTITY_TYPE, ["temperature"])
            with EventSubscriber(stack.receiver_grpc) as sub:
                start_after = sub.info().latest_sequence

            events = (spark.readStream.format("ngsi").option("address", stack.receiver_grpc)
                      .option("startingPosition", str(start_after)).option("entityType", ENTITY_TYPE)
                      .option("numPartitions", "2").load())
            temperature = F.col("attrs")["temperature"].cast("double")
            predictions = events.select(
                "entity_id", "entity_type",
                (temperature * 1.8 + 32).alias("predicted_fahrenheit"),
                F.when(temperature > 900, F.lit("overheat")).otherwise(F.lit("ok")).alias("predicted_state"),
                F.col("sequence").alias("source_sequence"))
            writer = ReplierWriter(stack.replier_grpc, stack.broker_name, "upsert",
                                   id_col="entity_id", type_col="entity_type", batch_size=5,
                                   order_col="source_sequence")
            rows_seen = []

            def on_batch(df, batch_id):
                df.persist()
                try:
                    rows_seen.extend(r.source_sequence for r in df.select("source_sequence").collect())
                    writer.foreach_batch(df, batch_id)  # executors -> replier, batches of 5
                finally:
                    df.unpersist()

            query = (predictions.writeStream.foreachBatch(on_batch)
                     .option("checkpointLocation", str(tmp_path / "checkpoint"))
                     .trigger(processingTime="1 second").start())
            try:
                updates = {}
                for round_ in range(2):  # creations, then updates of the same entities
                    for i in range(COUNT // 2):
                        value = 800.0 + i * 10 + round_ * 5
                        entity_id = f"urn:{ENTITY_TYPE}:{i:02d}"
                        broker.upsert([{"id": entity_id, "type": ENTITY_TYPE,
                                        "temperature": {"type": "Number", "value": value}}])
                        updates[entity_id] = value

                def all_back():
                    stored = {e["id"]: e for e in broker.entities(ENTITY_TYPE)}
                    return all(e in stored and "predicted_fahrenheit" in stored[e]
                               and stored[e]["predicted_fahrenheit"]["value"] == v * 1.8 + 32
                               for e, v in updates.items())

                try:
                    wait_until(lambda: all_back() or query.exception(), 240,
                               "a prediction for every update at the broker")
                except AssertionError as exc:
                    stored = {e["id"]: e for e in broker.entities(ENTITY_TYPE)}
                    missing = {e: (v, stored.get(e, {}).get("predicted_fahrenheit"))
                               for e, v in updates.items()
                               if stored.get(e, {}).get("predicted_fahrenheit", {}).get("value") != v * 1.8 + 32}
                    with EventSubscriber(stack.receiver_grpc) as sub:
                        info = sub.info()
                    raise AssertionError(f"{exc}; rows seen {sorted(rows_seen)}; receiver "
                                         f"{info.earliest_sequence}..{info.latest_sequence}; "
                                         f"missing {missing}") from None
                assert query.exception() is None
                assert all_back()
                stored = {e["id"]: e for e in broker.entities(ENTITY_TYPE)}
                for entity_id, value in updates.items():
                    entity = stored[entity_id]
                    assert entity["predicted_state"]["value"] == ("overheat" if value > 900 else "ok")
                    assert entity["source_sequence"]["value"] > start_after
                assert sorted(rows_seen) == list(range(start_after + 1, start_after + COUNT + 1)), \
                    "every update (creations and changes) arrived exactly once"
            finally:
                query.stop()
        assert spark.sparkContext.master == cluster.master_url
    finally:
        spark.stop()
