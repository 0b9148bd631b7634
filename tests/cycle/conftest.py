"""Cycle fixtures: a small simulated district ingested up to the end of 2024 with a first champion, built once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from core.settings import Settings
from tests.conftest import cycle_rules, first_champion

ENTITIES = 400  # entities at the end of 2020; about 430 are active in 2025
SEED = 8
BASE_UNTIL = date(2024, 12, 31)
# Cheap but real retraining for tests: a short quarterly spine, few trees; the champion ages out after
# 5 months (its data ends 2024-12-31, so the 2025-07-01 cycle retrains) and drift never retrains twice.
TEST_RULES = cycle_rules("cycle-test", max_champion_age_months=5, spine_months=27, num_boost_round=40,
                         search_configs=1)


@dataclass
class District:
    root: Path
    template: Path  # a home holding the base extracts, ingested, and the first champion (local export)
    rules_file: str

    def drop(self, month: str) -> Path:
        """The drop of ``month`` (YYYY-MM), written on first use."""
        import synth

        out = self.root / "drops" / month
        if not (out / "synth_report.json").is_file():
            synth.emit_drop(out, month=month, entities=ENTITIES, seed=SEED)
        return out

    def home(self, tmp_path: Path) -> Settings:
        """A private copy of the template home."""
        home = tmp_path / "home"
        shutil.copytree(self.template, home)
        return Settings.from_env(home)


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> District:
    import synth
    from features.ingest import ingest

    mp = pytest.MonkeyPatch()
    mp.delenv("CREDIT_RISK_DB_URL", raising=False)
    root = tmp_path_factory.mktemp("cycle")
    synth.generate(root / "base", entities=ENTITIES, seed=SEED, until=BASE_UNTIL)
    template = root / "template"
    settings = Settings.from_env(template)
    ingest(settings, root / "base", actor="test")
    first_champion(settings, data_end=BASE_UNTIL, seed=SEED, num_boost_round=40)
    rules_file = root / "cycle-test.toml"
    rules_file.write_text(TEST_RULES, encoding="utf-8")
    yield District(root, template, str(rules_file))
    mp.undo()
