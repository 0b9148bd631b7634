"""Fault fixtures: a small simulated district with a first champion, a real `credit-risk serve`, real cycles.

Everything runs as the operator would run it: the console command in subprocesses on a private home.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from core.settings import Settings
from tests.conftest import cycle_rules, first_champion, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "credit-risk")
ENTITIES = 200
SEED = 21
BASE_UNTIL = date(2024, 12, 31)
RULES = cycle_rules("faults-test", max_champion_age_months=24, spine_months=12, num_boost_round=10)


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "BENTOML_HOME": str(home / "bentoml"),
           "PYTHONPATH": str(ROOT)}
    env.pop("CREDIT_RISK_DB_URL", None)
    env.pop("CREDIT_RISK_TREE_CACHE", None)
    return env


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Service:
    """One `credit-risk serve` on a loopback port of a home."""

    home: Path
    port: int
    keys: dict[str, str]
    proc: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def start(self, timeout: float = 120) -> None:
        log = self.home / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "w") as out:
            self.proc = subprocess.Popen([CLI, "serve", "--port", str(self.port), "--home", str(self.home)],
                                         cwd=ROOT, env=env_for(self.home), stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        wait_ready(self.proc, self.url, self.logs[-1], timeout=timeout)

    alive = staticmethod(alive)

    def gone(self, pid: int, timeout: float) -> bool:
        """True once ``pid`` has exited (within ``timeout`` seconds)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.1)
        return False

    def port_free(self) -> bool:
        """True when the port can be bound again (as circus binds it, with SO_REUSEADDR)."""
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return False
        return True

    def worker(self, timeout: float = 30) -> int:
        """The pid of the worker process that serves HTTP (a child of `credit-risk serve`)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            kids = [p for p in children(self.proc.pid) if alive(p)]
            if kids:
                return kids[0]
            time.sleep(0.2)
        raise AssertionError("no worker process found under credit-risk serve")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server is killed
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class District:
    root: Path
    template: Path
    rules_file: str

    def drop(self, month: str) -> Path:
        import synth

        out = self.root / "drops" / month
        if not (out / "synth_report.json").is_file():
            synth.emit_drop(out, month=month, entities=ENTITIES, seed=SEED)
        return out

    def home(self, tmp_path: Path) -> Settings:
        home = tmp_path / "home"
        shutil.copytree(self.template, home)
        return Settings.from_env(home)

    def cycle(self, home: Path, as_of: str, *extra: str, drop: str | None = None) -> subprocess.Popen:
        """Start `credit-risk cycle` for ``as_of`` in the background (stdout/stderr piped)."""
        args = [CLI, "cycle", "--home", str(home), "--as-of", as_of, "--retrain", "never", "--rules",
                self.rules_file, "--json", *extra]
        if drop:
            args += ["--drop", drop]
        return subprocess.Popen(args, cwd=ROOT, env=env_for(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> District:
    """Base extracts to the end of 2024, ingested, and a first champion exported locally; built once."""
    import synth
    from features.ingest import ingest
    from serving.publish import publish

    mp = pytest.MonkeyPatch()
    mp.delenv("CREDIT_RISK_DB_URL", raising=False)
    root = tmp_path_factory.mktemp("faults")
    synth.generate(root / "base", entities=ENTITIES, seed=SEED, until=BASE_UNTIL)
    template = root / "template"
    settings = Settings.from_env(template)
    ingest(settings, root / "base", actor="test")
    first_champion(settings, data_end=BASE_UNTIL, seed=SEED, num_boost_round=20)
    publish(settings, as_of=date(2025, 1, 1), actor="test")  # last month's tiers: what the service serves first
    rules_file = root / "faults-test.toml"
    rules_file.write_text(RULES, encoding="utf-8")
    yield District(root, template, str(rules_file))
    mp.undo()


def make_keys(settings: Settings) -> dict[str, str]:
    from serving.keys import ROLES, create_key

    return {role: create_key(settings, role=role, label=f"faults {role}", actor="test")[1] for role in ROLES}


@pytest.fixture(scope="session")
def serve():
    """``serve(settings, port=None, start=True) -> Service``: keys for every role, a port, a started service."""
    started: list[Service] = []

    def make(settings: Settings, *, port: int | None = None, start: bool = True) -> Service:
        svc = Service(settings.home, port or free_port(), make_keys(settings))
        started.append(svc)
        if start:
            svc.start()
        return svc

    yield make
    for svc in started:
        svc.stop()
