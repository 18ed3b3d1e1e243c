"""A small SparkSession for demos and tests, with ngsi_bridge on the executors' path."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional


def package_path() -> str:
    """The folder to put on PYTHONPATH so that executors import ngsi_bridge."""
    import ngsi_bridge
    return str(Path(ngsi_bridge.__file__).resolve().parents[1])


def spark_session(master: str = "local[2]", app: str = "ngsi-bridge",
                  conf: Optional[Mapping[str, str]] = None) -> Any:
    """``SparkSession`` on loopback with little memory, no UI, ERROR logs, and
    ``spark.executorEnv.PYTHONPATH`` / ``PYSPARK_PYTHON`` set so executors (local
    or standalone workers) import this ngsi_bridge with this interpreter.
    Start it before opening gRPC channels in the same process (the JVM is forked)."""
    from pyspark.sql import SparkSession
    pythonpath = os.pathsep.join(p for p in [package_path(), os.environ.get("PYTHONPATH", "")] if p)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.ui.enabled", "false")
               # The stage progress bar would overwrite the demo's and jobs' own lines.
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", "512m").config("spark.executor.memory", "512m")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.executorEnv.PYTHONPATH", pythonpath)
               .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1"))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
