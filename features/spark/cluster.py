"""A standalone Spark cluster on 127.0.0.1 (one master, N workers) from the PySpark distribution, for tests and
benches: ``bin/spark-class org.apache.spark.deploy.master.Master`` and ``...worker.Worker``, each worker with
its own cores and memory, executors running this interpreter's Python."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def java_missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (install openjdk-17-jre-headless; .ci/run does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    ui: str
    workers: int
    cores_per_worker: int


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", SPARK_MASTER_HOST="127.0.0.1",
               PYSPARK_PYTHON=os.environ.get("PYSPARK_PYTHON", sys.executable),
               SPARK_LOG_DIR=str(work / "logs"), SPARK_WORKER_DIR=str(work / "work"),
               SPARK_DAEMON_MEMORY="256m", SPARK_NO_DAEMONIZE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                    os.environ.get("PYTHONPATH", "")] if p)
    return env


def _alive(ui: str) -> int:
    try:
        with urllib.request.urlopen(f"{ui}/json/", timeout=2) as r:  # noqa: S310 - loopback only
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return -1


@contextlib.contextmanager
def standalone(work: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g",
               timeout: float = 120) -> Iterator[Cluster]:
    """Start a master and ``workers`` workers on 127.0.0.1; stop them (the processes started here) at the end."""
    work = Path(work)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    env = _env(work)
    klass = str(spark_home() / "bin" / "spark-class")
    port, ui_port = _free_port(), _free_port()
    procs: list[subprocess.Popen] = []
    logs = []

    def start(name: str, *args: str) -> None:
        log = open(work / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(subprocess.Popen([klass, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(ui_port))
        master, ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
        for i in range(workers):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
                  "--cores", str(cores), "--memory", memory, "--webui-port", str(_free_port()),
                  "--work-dir", str(work / "work" / f"w{i}"))
        deadline = time.monotonic() + timeout
        while _alive(ui) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"standalone cluster did not start {workers} workers in {timeout:.0f} s "
                                   f"(logs in {work / 'logs'})")
            time.sleep(0.5)
        yield Cluster(master, ui, workers, cores)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


def conf_for(cluster: Cluster, *, executor_memory: str = "512m") -> dict[str, str]:
    """Session settings for an application on ``cluster``: one executor per worker, small memory."""
    return {"spark.executor.memory": executor_memory, "spark.executor.cores": str(cluster.cores_per_worker),
            "spark.cores.max": str(cluster.workers * cluster.cores_per_worker),
            "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.executorEnv.PYTHONPATH": _env(Path(".")).get("PYTHONPATH", ""),
            "spark.executorEnv.PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
