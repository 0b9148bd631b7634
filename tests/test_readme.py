"""The README's annotated tree matches the disk, and its set-up commands are the ones CI runs."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _tree_entries() -> list[str]:
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    return [m.group(1) for line in block.splitlines() if (m := re.match(r"^(\S+)\s+<- ", line))]


def _tracked_top_level() -> set[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    tops = set()
    for path in out:
        first, _, rest = path.partition("/")
        tops.add(first + "/" if rest else first)
    return tops - {".gitignore"}


def test_every_tree_entry_exists_on_disk():
    missing = [e for e in _tree_entries() if not (ROOT / e).exists()]
    assert not missing, f"README tree names paths that do not exist: {missing}"


def test_every_top_level_entry_is_in_the_tree():
    listed = {e for e in _tree_entries() if e.count("/") <= 1 and not e.rstrip("/").count("/")}
    unlisted = sorted(_tracked_top_level() - listed)
    assert not unlisted, f"top-level entries missing from the README tree: {unlisted}"


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "CREDIT_RISK_TEST_PG_URL" in ci
