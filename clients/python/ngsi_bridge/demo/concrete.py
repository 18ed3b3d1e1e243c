"""The concrete-strength tutorial, end to end: ``python3 -m ngsi_bridge.demo.concrete``.

1. Trains a RandomForestRegressor on the concrete compressive strength dataset
   (80 % of the rows; the other 20 % are the recipes fed later).
2. Starts the broker simulator (unless ``--broker-url``), ngsi-receiver and
   ngsi-replier, and subscribes the receiver to ``ConcreteRecipe`` entities.
3. Starts a PySpark Structured Streaming job reading the receiver through the
   ``ngsi`` data source; every micro-batch predicts the strength of each recipe
   in the executors and writes ``predicted_strength`` and ``prediction_error``
   back through the replier (upsert, batched).
4. Feeds ``--count`` recipes into the broker as entity updates, prints a line
   per prediction, then checks the broker holds every prediction and prints a
   summary (count, mean absolute error, events/s). Exit 0 only when every
   recipe came back with its prediction.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

FEATURES = ["cement", "slag", "ash", "water", "superplastic", "coarseagg", "fineagg", "age"]
TARGET = "strength"
ENTITY_TYPE = "ConcreteRecipe"


def default_dataset() -> Path:
    from ngsi_bridge.demo.stack import repo_root
    return Path(os.environ.get("NGSI_BRIDGE_SHARED") or repo_root().parent / "shared") \
        / "datasets" / "concrete_dataset.csv"


def train(dataset: Path, seed: int = 0) -> tuple[Any, list[dict], float, int]:
    """(model, held-out recipes as dicts, R^2 on them, training rows)."""
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import train_test_split
    frame = pd.read_csv(dataset)
    missing = [c for c in FEATURES + [TARGET] if c not in frame.columns]
    if missing:
        raise SystemExit(f"{dataset} lacks columns {missing}: is it the concrete dataset?")
    train_df, test_df = train_test_split(frame, test_size=0.2, random_state=seed)
    model = RandomForestRegressor(n_estimators=60, random_state=seed, n_jobs=1)
    model.fit(train_df[FEATURES].to_numpy(), train_df[TARGET].to_numpy())
    r2 = model.score(test_df[FEATURES].to_numpy(), test_df[TARGET].to_numpy())
    return model, test_df.to_dict("records"), r2, len(train_df)


def recipe_entity(index: int, recipe: dict) -> dict:
    entity = {"id": f"urn:ngsi-ld:{ENTITY_TYPE}:{index:04d}", "type": ENTITY_TYPE}
    for name in FEATURES + [TARGET]:
        entity[name] = {"type": "Number", "value": float(recipe[name])}
    return entity


def predict_and_write(model: Any, replier: str, broker: str):
    """The executor-side function of each micro-batch partition: predicts every
    row, writes the predictions back through the replier (batched upsert) and
    yields one result tuple per row for the driver's live output. ``model`` is
    a Spark broadcast of the regressor (shipped once per executor, not per task)."""
    def run(rows: Iterator[Any]) -> Iterator[tuple]:
        import numpy as np
        from ngsi_bridge.spark.writer import ReplierWriter
        rows = [r for r in rows if all(r.attrs.get(f) is not None for f in FEATURES)]
        if not rows:
            return iter(())
        x = np.array([[float(r.attrs[f]) for f in FEATURES] for r in rows])
        predicted = model.value.predict(x)
        out = []
        for row, value in zip(rows, predicted):
            actual = float(row.attrs[TARGET]) if row.attrs.get(TARGET) is not None else float("nan")
            out.append({"id": row.entity_id, "type": ENTITY_TYPE,
                        "predicted_strength": {"type": "Number", "value": round(float(value), 3)},
                        "prediction_error": {"type": "Number", "value": round(float(value) - actual, 3)},
                        "_row": (row.sequence, row.entity_id, float(value), actual,
                                 float(row.attrs["age"]), row.received_at)})
        writer = ReplierWriter(replier, broker, "upsert", batch_size=100,
                               to_entity=lambda e: {k: v for k, v in e.items() if k != "_row"})
        writer.write_rows(out, correlator="concrete-demo")
        return iter([o["_row"] for o in out])
    return run


def build_spark(master: str, app: str = "ngsi-bridge-concrete") -> Any:
    from ngsi_bridge.spark.session import spark_session
    return spark_session(master, app)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50, help="recipes to feed (default 50)")
    parser.add_argument("--broker-url", default="",
                        help="a real NGSIv2 broker (e.g. http://localhost:1026) instead of the simulator")
    parser.add_argument("--notify-host", default="",
                        help="host the broker uses to reach the receiver (default 127.0.0.1)")
    parser.add_argument("--bind-host", default="127.0.0.1",
                        help="address the services bind (0.0.0.0 when the broker runs in a container)")
    parser.add_argument("--dataset", type=Path, default=None, help="concrete_dataset.csv")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--rate", type=float, default=20.0, help="recipes fed per second")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for predictions")
    args = parser.parse_args(argv)

    from ngsi_bridge import EventSubscriber
    from ngsi_bridge.demo.stack import Stack
    from ngsi_bridge.spark.datasource import register

    dataset = args.dataset or default_dataset()
    print(f"training RandomForestRegressor on {dataset} ...", flush=True)
    model, recipes, r2, n_train = train(dataset)
    print(f"  trained on {n_train} rows; "
          f"R^2 on {len(recipes)} held-out recipes: {r2:.3f}", flush=True)
    recipes = [recipes[i % len(recipes)] for i in range(args.count)]

    stack = Stack(broker_url=args.broker_url, host=args.bind_host, notify_host=args.notify_host)
    spark = query = None
    lock = threading.Lock()
    results: dict[str, tuple] = {}
    feed_times: dict[str, float] = {}
    try:
        stack.start()
        print(f"broker   {stack.broker_url}{'' if args.broker_url else ' (simulator)'}", flush=True)
        print(f"receiver grpc {stack.receiver_grpc}, notifications {stack.notify_url}", flush=True)
        print(f"replier  grpc {stack.replier_grpc} -> broker '{stack.broker_name}'", flush=True)
        broker = stack.broker
        subscription = broker.create_subscription(
            stack.notify_url, ENTITY_TYPE, condition_attrs=[TARGET], notify_attrs=FEATURES + [TARGET],
            description=f"ngsi-bridge concrete demo {os.getpid()}")
        spark = build_spark(args.master)  # before gRPC channels: the JVM is forked
        register(spark)
        with EventSubscriber(stack.receiver_grpc) as sub:
            start_after = sub.info().latest_sequence
        events = (spark.readStream.format("ngsi").option("address", stack.receiver_grpc)
                  .option("startingPosition", str(start_after)).option("entityType", ENTITY_TYPE)
                  .option("numPartitions", "2").load())
        model_bc = spark.sparkContext.broadcast(model)
        run_partition = predict_and_write(model_bc, stack.replier_grpc, stack.broker_name)

        def on_batch(df: Any, batch_id: int) -> None:
            for seq, entity_id, predicted, actual, age, received in \
                    df.rdd.mapPartitions(run_partition).collect():
                with lock:
                    first = entity_id not in results
                    results[entity_id] = (predicted, actual, time.monotonic())
                    n = len(results)
                if first:
                    latency = (time.monotonic() - feed_times[entity_id]) * 1000 \
                        if entity_id in feed_times else float("nan")
                    print(f"[{n:4d}/{args.count}] {entity_id.rsplit(':', 1)[-1]}  age {age:5.0f} d  "
                          f"predicted {predicted:6.2f} MPa  measured {actual:6.2f}  "
                          f"error {predicted - actual:+6.2f}  (seq {seq}, batch {batch_id}, "
                          f"{latency:5.0f} ms)", flush=True)

        query = (events.writeStream.foreachBatch(on_batch).trigger(processingTime="500 milliseconds")
                 .queryName("concrete-predictions").start())

        # Warm up before feeding, so the first prediction does not pay for starting
        # Python workers and shipping the model: the query's source is planned and
        # each executor core has run the prediction function once.
        spark.sparkContext.parallelize(range(2), 2).mapPartitions(
            lambda _: [float(model_bc.value.predict([[0.0] * len(FEATURES)])[0])]).collect()
        deadline = time.monotonic() + 60
        while not query.recentProgress and time.monotonic() < deadline:
            if query.exception() is not None:
                raise RuntimeError(f"the streaming query failed: {query.exception()}")
            time.sleep(0.2)
        print(f"feeding {args.count} recipes at {args.rate:g}/s ...", flush=True)
        t0 = time.monotonic()
        for i, recipe in enumerate(recipes):
            entity = recipe_entity(i, recipe)
            feed_times[entity["id"]] = time.monotonic()
            broker.upsert([entity])
            delay = t0 + (i + 1) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with lock:
                if len(results) >= args.count:
                    break
            if query.exception() is not None:
                raise RuntimeError(f"the streaming query failed: {query.exception()}")
            time.sleep(0.2)
        query.stop()
        elapsed = max((r[2] for r in results.values()), default=time.monotonic()) - t0

        stored = {e["id"]: e for e in broker.entities(ENTITY_TYPE, limit=args.count + 100)}
        written = [i for i in feed_times if "predicted_strength" in stored.get(i, {})]
        errors = [abs(p - a) for p, a, _ in results.values()]
        broker.delete_subscription(subscription)
        print("-" * 72)
        print(f"predictions      {len(results)} of {args.count} recipes")
        print(f"written back     {len(written)} entities hold predicted_strength and prediction_error")
        if errors:
            print(f"mean abs. error  {statistics.fmean(errors):.2f} MPa (model R^2 {r2:.3f})")
        print(f"throughput       {len(results) / elapsed if elapsed > 0 else 0:.1f} events/s "
              f"over {elapsed:.1f} s (feed rate {args.rate:g}/s)")
        ok = len(results) == args.count and len(written) == args.count
        print("result           " + ("OK" if ok else "INCOMPLETE"), flush=True)
        return 0 if ok else 1
    finally:
        if query is not None and query.isActive:
            query.stop()
        if spark is not None:
            spark.stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
