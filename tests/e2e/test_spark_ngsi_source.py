"""The `ngsi` PySpark streaming source against the real ngsi-receiver, the
real ngsi-replier and the broker simulator: a query stopped mid-stream and
restarted from its checkpoint processes every event exactly once, and every
entity is written back exactly once at the broker (idempotent upsert)."""
from __future__ import annotations

import functools
import json

import pytest

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.e2e]

from tests.e2e import spark_support  # noqa: E402
from ngsi_bridge import EventSubscriber  # noqa: E402
from ngsi_bridge.demo.stack import Stack  # noqa: E402

ENTITY_TYPE = "Meter"


wait_until = functools.partial(spark_support.wait_until, interval=0.25)


def feed(broker, first, count):
    for i in range(first, first + count):
        broker.upsert([{"id": f"urn:{ENTITY_TYPE}:{i:03d}", "type": ENTITY_TYPE,
                        "reading": {"type": "Number", "value": i}}])


def writebacks(requests):
    """entity id -> number of write-back requests the broker received for it."""
    counts: dict = {}
    for req in requests:
        if req.get("method") != "POST" or not req.get("path", "").startswith("/v2/op/update"):
            continue
        body = req.get("body")
        body = json.loads(body) if isinstance(body, str) else body
        for entity in (body or {}).get("entities", []):
            if "scaled" in entity:
                counts[entity["id"]] = counts.get(entity["id"], 0) + 1
    return counts


def test_restart_from_checkpoint_processes_every_event_exactly_once(spark, tmp_path):
    from pyspark.sql import functions as F
    from ngsi_bridge.spark.datasource import register
    from ngsi_bridge.spark.writer import ReplierWriter
    from tests.testing.broker_sim.harness import RunningBrokerSim

    register(spark)
    with RunningBrokerSim() as sim, Stack(broker_url=sim.url) as stack:
        spark_support.require_replier(stack, lambda client: client.write(
            [{"id": "probe", "type": "Probe", "x": {"type": "Number", "value": 1}}]))
        broker = stack.broker
        broker.create_subscription(stack.notify_url, ENTITY_TYPE, ["reading"])
        with EventSubscriber(stack.receiver_grpc) as sub:
            start_after = sub.info().latest_sequence
        feed(broker, 0, 30)
        sim.flush()
        wait_until(lambda: EventSubscriber(stack.receiver_grpc).info().latest_sequence >= start_after + 30,
                   30, "30 notifications at the receiver")

        batches: dict = {}  # batch_id -> sequences (a replayed batch keeps its id)
        calls: list = []
        writer = ReplierWriter(stack.replier_grpc, stack.broker_name, "upsert",
                               id_col="entity_id", type_col="entity_type",
                               attrs={"scaled": "Number", "source_sequence": "Number"},
                               batch_log_dir=str(tmp_path / "checkpoint" / "written"))

        def on_batch(df, batch_id):
            rows = sorted(r.sequence for r in df.select("sequence").collect())
            if batch_id in batches:  # Spark replays an uncommitted batch: same offsets
                assert batches[batch_id] == rows
            calls.append(batch_id)
            writer.foreach_batch(df, batch_id)
            batches[batch_id] = rows

        def start_query():
            events = (spark.readStream.format("ngsi").option("address", stack.receiver_grpc)
                      .option("startingPosition", str(start_after))
                      .option("entityType", ENTITY_TYPE).option("maxEventsPerTrigger", "4")
                      .option("numPartitions", "2").load())
            scored = events.select(
                "entity_id", "entity_type",
                (F.col("attrs")["reading"].cast("double") * 10).alias("scaled"),
                F.col("sequence").alias("source_sequence"), "sequence")
            return (scored.writeStream.foreachBatch(on_batch)
                    .option("checkpointLocation", str(tmp_path / "checkpoint"))
                    .trigger(processingTime="200 milliseconds").start())

        query = start_query()
        wait_until(lambda: len(batches) >= 3 or query.exception(), 90, "three micro-batches")
        query.stop()  # mid-stream: 30 events, at most 4 per batch
        first_run = sum(len(v) for v in batches.values())
        assert query.exception() is None
        assert 0 < first_run < 30, f"stopped mid-stream, not after {first_run} events"

        feed(broker, 30, 10)  # more events while the query is down
        sim.flush()
        query = start_query()
        wait_until(lambda: sum(len(v) for v in batches.values()) >= 40 or query.exception(),
                   120, "all 40 events after the restart")
        query.stop()
        assert query.exception() is None

        all_sequences = [s for seqs in batches.values() for s in seqs]
        assert sorted(all_sequences) == list(range(start_after + 1, start_after + 41)), \
            "every event processed exactly once across the restart"

        stored = {e["id"]: e for e in broker.entities(ENTITY_TYPE)}
        assert len(stored) == 40
        for i in range(40):
            entity = stored[f"urn:{ENTITY_TYPE}:{i:03d}"]
            assert entity["scaled"]["value"] == i * 10
        counts = writebacks(sim.requests())
        assert sorted(counts) == sorted(stored), "every entity written back"
        replayed = sorted({b for b in calls if calls.count(b) > 1})
        assert set(counts.values()) == {1}, \
            f"written back more than once (replayed batches {replayed}): {counts}"
        assert writer.skipped_batches == replayed
