"""Compiled trees in C: the forest written out as nested if/else, built with the system C compiler.

Same split semantics as :mod:`training.compiled` (and LightGBM); built once per booster and cached as a
shared library keyed by the booster's hash. Used when a C compiler is present; otherwise the numba
evaluator serves.

Loading a shared library runs its code, so the cache is ours alone: it lives under the home
(``<home>/cache/trees``, mode 0700, owned by this user, not a symbolic link), and a library is loaded only
when the record written beside it at build time names the SHA-256 of this booster's C source and the
library's own bytes still hash to the recorded value. Anything else is rebuilt; a cache folder that
others could write is refused.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

_ZERO = "1e-35"
THREADS = 2
CHUNK = 65_536
BLOCK = 64


def available() -> bool:
    """True when a C compiler is on PATH."""
    return shutil.which(os.environ.get("CC", "cc")) is not None


class UnsafeCache(OSError):
    """The tree cache folder or a file in it could be written by someone else."""


def _cache_dir() -> Path:
    """``$CREDIT_RISK_TREE_CACHE``, else ``<home>/cache/trees``; created 0700 and checked to be ours alone."""
    from core.settings import Settings

    path = Path(os.environ.get("CREDIT_RISK_TREE_CACHE") or Settings.from_env().home / "cache" / "trees")
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)
    _check_private(path, folder=True)
    return path


def _check_private(path: Path, *, folder: bool) -> None:
    st = path.lstat()
    kind = "folder" if folder else "file"
    if stat.S_ISLNK(st.st_mode) or (stat.S_ISDIR(st.st_mode) != folder):
        raise UnsafeCache(f"tree cache: expected {path} to be a {kind}, got a link or another kind of file")
    if st.st_uid != os.geteuid():
        raise UnsafeCache(f"tree cache: expected {path} to be owned by uid {os.geteuid()}, got uid {st.st_uid}")
    if st.st_mode & (0o077 if folder else 0o022):
        raise UnsafeCache(f"tree cache: expected {path} writable by its owner only, got mode "
                          f"{stat.S_IMODE(st.st_mode):o}")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(lib: Path, record: Path, source_sha256: str) -> bool:
    """True when ``lib`` was built from the source hashing to ``source_sha256`` and is unchanged since."""
    if not (lib.is_file() and record.is_file()):
        return False
    _check_private(lib, folder=False)
    _check_private(record, folder=False)
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return meta.get("source_sha256") == source_sha256 and meta.get("library_sha256") == _sha256_file(lib)


def _node_code(node: dict, cats: list[str], depth: int) -> str:
    pad = " " * depth
    if "leaf_value" in node:
        return f"{pad}s += {float(node['leaf_value'])!r};\n"
    f = int(node["split_feature"])
    v = f"x[{f}]"
    missing = node.get("missing_type", "None")
    default_left = bool(node.get("default_left"))
    if node["decision_type"] == "==":
        values = sorted(int(c) for c in str(node["threshold"]).split("||"))
        bits = [0] * (max(values) + 1)
        for c in values:
            bits[c] = 1
        idx = len(cats)
        cats.append("{" + ",".join(map(str, bits)) + "}")
        cond = (f"(!isnan({v}) && {v} > -1.0 && (int){v} < {len(bits)} && "
                f"cat_{idx}[(int){v}])")
    else:
        thr = repr(float(node["threshold"]))
        if missing == "NaN":
            cond = f"(isnan({v}) ? {int(default_left)} : {v} <= {thr})"
        elif missing == "Zero":
            cond = f"((isnan({v}) || fabs({v}) <= {_ZERO}) ? {int(default_left)} : {v} <= {thr})"
        else:  # None: NaN is read as 0.0
            cond = f"(isnan({v}) ? {int(float(node['threshold']) >= 0.0)} : {v} <= {thr})"
    return (f"{pad}if {cond} {{\n" + _node_code(node["left_child"], cats, depth + 1)
            + f"{pad}}} else {{\n" + _node_code(node["right_child"], cats, depth + 1) + f"{pad}}}\n")


def source(booster) -> str:
    """The C source of ``predict_raw(const double *X, long n, long k, double *out)``."""
    dump = booster.dump_model()
    objective = str(dump.get("objective", "binary"))
    if not objective.startswith("binary") or dump.get("num_tree_per_iteration", 1) != 1:
        raise ValueError(f"compiled prediction supports binary models, got objective {objective!r}")
    cats: list[str] = []
    trees = []
    for i, tree in enumerate(dump["tree_info"]):
        body = _node_code(tree["tree_structure"], cats, 1)
        trees.append(f"static inline double tree_{i}(const double *x) {{\n double s = 0.0;\n{body} return s;\n}}\n")
    header = "#include <math.h>\n" + "".join(
        f"static const unsigned char cat_{i}[] = {c};\n" for i, c in enumerate(cats))
    # trees outside, a block of rows inside: each tree's code stays hot while the block walks it
    calls = "".join(f"  for (long r = b; r < e; r++) out[r] += tree_{i}(X + r * k);\n" for i in range(len(trees)))
    main = ("void predict_raw(const double *X, long n, long k, double *out) {\n"
            f" for (long b = 0; b < n; b += {BLOCK}) {{\n  long e = b + {BLOCK} < n ? b + {BLOCK} : n;\n"
            "  for (long r = b; r < e; r++) out[r] = 0.0;\n"
            f"{calls} }}\n}}\n")
    return header + "".join(trees) + main


class NativeForest:
    """A binary LightGBM model compiled to a shared library; :meth:`predict` as ``Booster.predict``."""

    def __init__(self, lib_path: Path, *, num_features: int, sigmoid: float = 1.0) -> None:
        self._lib = ctypes.CDLL(str(lib_path))
        self._fn = self._lib.predict_raw
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
        self.num_features = num_features
        self.sigmoid = sigmoid

    @classmethod
    def from_booster(cls, booster) -> NativeForest:
        """Build (or reuse from the cache) the library for ``booster``."""
        code = source(booster)
        source_sha256 = hashlib.sha256(code.encode("ascii")).hexdigest()
        cache = _cache_dir()
        lib = cache / f"forest-{source_sha256[:24]}.so"
        record = lib.with_suffix(".json")
        if not _verified(lib, record, source_sha256):
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                src = Path(tmp) / "forest.c"
                src.write_text(code, encoding="ascii")
                out = Path(tmp) / "forest.so"
                cc = os.environ.get("CC", "cc")
                subprocess.run([cc, "-O2", "-shared", "-fPIC", "-fno-math-errno", "-o", str(out), str(src)],
                               check=True, capture_output=True, timeout=600)
                out.chmod(0o500)
                staged = Path(tmp) / "forest.json"
                staged.write_text(json.dumps({"source_sha256": source_sha256, "library_sha256": _sha256_file(out),
                                              "compiler": cc}), encoding="utf-8")
                staged.chmod(0o600)
                os.replace(out, lib)
                os.replace(staged, record)
            if not _verified(lib, record, source_sha256):  # pragma: no cover - raced by another builder
                raise UnsafeCache(f"tree cache: {lib} changed while it was being built")
        sigmoid = 1.0
        for part in str(booster.dump_model(num_iteration=0).get("objective", "")).split():
            if part.startswith("sigmoid:"):
                sigmoid = float(part.split(":", 1)[1])
        return cls(lib, num_features=booster.num_feature(), sigmoid=sigmoid)

    def raw(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected a 2-D matrix with {self.num_features} columns, got shape {x.shape}")
        out = np.zeros(x.shape[0], dtype=np.float64)
        k = x.shape[1]

        def run(lo: int) -> None:  # ctypes releases the GIL: chunks run in parallel
            hi = min(len(x), lo + CHUNK)
            self._fn(x[lo:hi].ctypes.data, hi - lo, k, out[lo:].ctypes.data)

        if len(x) <= CHUNK:
            run(0)
        else:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(run, range(0, len(x), CHUNK)))
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.sigmoid * self.raw(x)))
