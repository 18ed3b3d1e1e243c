"""Structured Streaming over Spark's `socket` source on the receiver's
event-json line listener, parsed with ngsi_bridge.spark.socket_source and
written back through ngsi-replier with foreachBatch."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.e2e]

from tests.e2e.spark_support import require_replier, wait_until  # noqa: E402
from ngsi_bridge.demo.stack import Stack  # noqa: E402


def test_socket_source_rows_are_parsed_and_written_back(spark, tmp_path):
    from pyspark.sql import functions as F
    from ngsi_bridge.spark.socket_source import entity_rows, read_socket_events
    from ngsi_bridge.spark.writer import ReplierWriter

    with Stack() as stack:
        require_replier(stack, lambda client: client.list_brokers())
        broker = stack.broker
        broker.create_subscription(stack.notify_url, "Silo", ["fill"])
        rows = entity_rows(read_socket_events(spark, "127.0.0.1", stack.line_port("event-json")))
        scored = rows.select("entity_id", "entity_type", "sequence", "service_path",
                             (F.col("attrs")["fill"].cast("double") / 100).alias("fill_ratio"),
                             F.col("attrs")["label"].alias("label_copy"))
        seen: list = []
        writer = ReplierWriter(stack.replier_grpc, stack.broker_name, "upsert",
                               id_col="entity_id", type_col="entity_type",
                               attrs={"fill_ratio": "Number", "label_copy": "Text"})

        def on_batch(df, batch_id):
            seen.extend(df.collect())
            writer.foreach_batch(df, batch_id)

        query = (scored.writeStream.foreachBatch(on_batch)
                 .option("checkpointLocation", str(tmp_path / "cp"))
                 .trigger(processingTime="500 milliseconds").start())
        try:
            # the socket source connects asynchronously and sees live lines only
            deadline = time.monotonic() + 60
            n = 0
            while not any(r.entity_id == "urn:Silo:probe" for r in seen):
                assert time.monotonic() < deadline, "the socket source never received a line"
                assert query.exception() is None, query.exception()
                n += 1
                broker.upsert([{"id": "urn:Silo:probe", "type": "Silo",
                                "fill": {"type": "Number", "value": n}}])
                time.sleep(1)
            for i in range(10):
                broker.upsert([{"id": f"urn:Silo:{i}", "type": "Silo",
                                "fill": {"type": "Number", "value": i * 10},
                                "label": {"type": "Text", "value": f"silo {i}"}}])

            def back():
                stored = {e["id"]: e for e in broker.entities("Silo")}
                return all(stored.get(f"urn:Silo:{i}", {}).get("fill_ratio", {}).get("value")
                           == i / 10 for i in range(10))

            wait_until(lambda: back() or query.exception(), 60, "every silo written back")
            assert query.exception() is None
        finally:
            query.stop()
        stored = {e["id"]: e for e in broker.entities("Silo")}
        assert [stored[f"urn:Silo:{i}"]["label_copy"]["value"] for i in range(10)] == \
            [f"silo {i}" for i in range(10)]
        real = [r for r in seen if r.entity_id != "urn:Silo:probe"]
        assert len(real) == 10 and all(r.service_path == "/" for r in real)
        assert sorted(r.sequence for r in real) == [r.sequence for r in
                                                    sorted(real, key=lambda r: r.entity_id[-1])]
