"""Compiled trees in C: the forest written out as nested if/else, built with the system C compiler.

Same split semantics as LightGBM (and :mod:`training.compiled`), with the same bits: each missing-value
rule folds into the split's one comparison (a comparison with NaN is false), the last split of a path is
a table look-up rather than a branch, and the side more training rows took is the fall-through path.
Built once per booster and cached as a shared library keyed by the source, the compiler and its flags
(:func:`build_key`). Used when a C compiler is present; otherwise the numba evaluator serves.

Loading a shared library runs its code, so the cache is ours alone: it lives under the home
(``<home>/cache/trees``, mode 0700, owned by this user, not a symbolic link), and a library is loaded only
when the record written beside it at build time names this build's key (source, compiler, flags) and the
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

_ZERO = "1e-35f"
_ZERO_VALUE = float(np.float32(1e-35))  # the same number as a double
THREADS = 2
CHUNK = 65_536
BLOCK = 128


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


def _verified(lib: Path, record: Path, key: str) -> bool:
    """True when ``lib`` was built under the :func:`build_key` ``key`` and is unchanged since."""
    if not (lib.is_file() and record.is_file()):
        return False
    _check_private(lib, folder=False)
    _check_private(record, folder=False)
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return meta.get("build_key") == key and meta.get("library_sha256") == _sha256_file(lib)


def _numeric_cond(v: str, thr: float, missing: str, default_left: bool) -> str:
    """The C test for "go left" at a numeric split, exactly as LightGBM's ``NumericalDecision``.

    A comparison with NaN is false, so ``!(v > t)`` sends NaN left and ``v <= t`` sends it right: the
    missing-value rule folds into the one comparison (no ``isnan`` branch) wherever the rule allows.
    """
    t = repr(float(thr))
    le, not_gt = f"({v} <= {t})", f"(!({v} > {t}))"
    if missing == "NaN":  # NaN follows default_left
        return not_gt if default_left else le
    if missing == "Zero":  # NaN is read as 0.0, and |v| <= 1e-35 (LightGBM's kZeroThreshold, a float) follows default_left
        if default_left and thr >= _ZERO_VALUE:
            return not_gt
        if not default_left and thr < -_ZERO_VALUE:
            return le
        return f"((isnan({v}) || fabs({v}) <= {_ZERO}) ? {int(default_left)} : {le})"
    return not_gt if thr >= 0.0 else le  # None: NaN is read as 0.0


def _is_leaf(node: dict) -> bool:
    if "leaf_value" in node:
        if node.get("leaf_coeff"):
            raise ValueError("compiled prediction does not support linear trees")
        return True
    return False


def _count(node: dict) -> int:
    return int(node.get("leaf_count", node.get("internal_count", 0)))


def _leaf(node: dict) -> str:
    return repr(float(node["leaf_value"]))


def _node_code(node: dict, cats: list[str], depth: int) -> str:
    pad = " " * depth
    if _is_leaf(node):
        return f"{pad}return {_leaf(node)};\n"
    left, right = node["left_child"], node["right_child"]
    if _is_leaf(left) and _is_leaf(right):  # last split: a table look-up, no branch to mispredict
        return (f"{pad}{{ static const double v[2] = {{{_leaf(left)}, {_leaf(right)}}};\n"
                f"{pad}  return v[!{_cond(node, cats)}]; }}\n")
    # the side more training rows took is laid out as the fall-through path
    hint = "1" if _count(left) >= _count(right) else "0"
    test = f"(__builtin_expect({_cond(node, cats)}, {hint}))"
    return (f"{pad}if {test} {{\n" + _node_code(left, cats, depth + 1)
            + f"{pad}}} else {{\n" + _node_code(right, cats, depth + 1) + f"{pad}}}\n")


def _cond(node: dict, cats: list[str]) -> str:
    """The parenthesised C test that sends a row to the left child."""
    f = int(node["split_feature"])
    v = f"x[{f}]"
    if node["decision_type"] == "==":
        # LightGBM's CategoricalDecision: NaN and codes below 0 (after truncation toward zero) go right
        values = sorted(int(c) for c in str(node["threshold"]).split("||"))
        bits = [0] * (max(values) + 1)
        for c in values:
            bits[c] = 1
        n = len(bits)
        # no branch: the range test and the bit are both computed; the clamp keeps the conversion defined
        # (fmax sends NaN to 0, which the range test then refuses)
        at = f"(int)fmin(fmax({v}, 0.0), {n - 1}.0)"
        in_range = f"(({v} > -1.0) & ({v} < {n}.0))"
        if n <= 64:
            mask = sum(1 << c for c in values)
            cond = f"({in_range} & (int)(({mask}ULL >> {at}) & 1ULL))"
        else:
            idx = len(cats)
            cats.append("{" + ",".join(map(str, bits)) + "}")
            cond = f"({in_range} & cat_{idx}[{at}])"
    elif node["decision_type"] == "<=":
        cond = _numeric_cond(v, float(node["threshold"]), node.get("missing_type", "None"),
                             bool(node.get("default_left")))
    else:
        raise ValueError(f"unsupported decision type {node['decision_type']!r}")
    return cond


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
        trees.append(f"static inline double tree_{i}(const double *restrict x) {{\n{body}}}\n")
    header = "#include <math.h>\n" + "".join(
        f"static const unsigned char cat_{i}[] = {c};\n" for i, c in enumerate(cats))
    # trees outside, a block of rows inside: each tree's code stays hot while the block walks it; leaf
    # values are added in tree order, in double, as LightGBM does (same bits)
    calls = "".join(f"  for (long r = b; r < e; r++) out[r] += tree_{i}(X + r * k);\n" for i in range(len(trees)))
    main = ("void predict_raw(const double *restrict X, long n, long k, double *restrict out) {\n"
            f" for (long b = 0; b < n; b += {BLOCK}) {{\n  long e = b + {BLOCK} < n ? b + {BLOCK} : n;\n"
            "  for (long r = b; r < e; r++) out[r] = 0.0;\n"
            f"{calls} }}\n}}\n")
    return header + "".join(trees) + main


# Portable code (no -march=native: a home may move between machines); -fno-math-errno lets isnan/fabs
# inline. Nothing that changes IEEE semantics (-ffast-math, -Ofast, -ffinite-math-only): NaN routing
# rests on comparisons with NaN being false.
CFLAGS = ("-O2", "-fno-math-errno")
_UNSAFE_FLAGS = ("-ffast-math", "-Ofast", "-ffinite-math-only", "-fno-honor-nans")


def cflags() -> tuple[str, ...]:
    """The compiler flags: ``$CREDIT_RISK_TREE_CFLAGS`` (space-separated) or :data:`CFLAGS`."""
    env = os.environ.get("CREDIT_RISK_TREE_CFLAGS")
    flags = tuple(env.split()) if env else CFLAGS
    bad = [f for f in flags if f in _UNSAFE_FLAGS]
    if bad:
        raise ValueError(f"tree compiler flags must keep IEEE NaN semantics, got {bad}")
    return flags


def _compiler_id(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.splitlines()[0] if out.stdout else cc


def _cpu_id() -> str:
    """The CPU's model and feature flags (only keyed in when the flags tune for this CPU)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # pragma: no cover - not Linux
        import platform

        return platform.processor() or platform.machine()
    keep = [line for line in info if line.startswith(("model name", "flags"))]
    return "\n".join(dict.fromkeys(keep))


def build_key(code: str, *, cc: str, flags: tuple[str, ...]) -> str:
    """SHA-256 over what decides the library's bytes: the C source, the compiler and its flags (and the
    CPU when a flag tunes for the build machine, e.g. ``-march=native``)."""
    h = hashlib.sha256(code.encode("ascii"))
    h.update(json.dumps({"cc": _compiler_id(cc), "flags": list(flags)}).encode("utf-8"))
    if any("native" in f for f in flags):
        h.update(_cpu_id().encode("utf-8"))
    return h.hexdigest()


class NativeForest:
    """A binary LightGBM model compiled to a shared library; :meth:`predict` as ``Booster.predict``.

    :meth:`raw` gives LightGBM's raw scores bit for bit (leaf values added in tree order, in double);
    rows are split over ``threads`` threads (ctypes releases the GIL), each row scored by one thread,
    so the result does not depend on the thread count.
    """

    def __init__(self, lib_path: Path, *, num_features: int, sigmoid: float = 1.0) -> None:
        self._lib = ctypes.CDLL(str(lib_path))
        self._fn = self._lib.predict_raw
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
        self.num_features = num_features
        self.sigmoid = sigmoid
        self.library = lib_path

    @classmethod
    def from_booster(cls, booster) -> NativeForest:
        """Build (or reuse from the cache) the library for ``booster``."""
        code = source(booster)
        cc = os.environ.get("CC", "cc")
        flags = cflags()
        key = build_key(code, cc=cc, flags=flags)
        cache = _cache_dir()
        lib = cache / f"forest-{key[:24]}.so"
        record = lib.with_suffix(".json")
        if not _verified(lib, record, key):
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                src = Path(tmp) / "forest.c"
                src.write_text(code, encoding="ascii")
                out = Path(tmp) / "forest.so"
                subprocess.run([cc, *flags, "-shared", "-fPIC", "-o", str(out), str(src)],
                               check=True, capture_output=True, timeout=1200)
                out.chmod(0o500)
                staged = Path(tmp) / "forest.json"
                staged.write_text(json.dumps({"build_key": key, "library_sha256": _sha256_file(out),
                                              "compiler": cc, "flags": list(flags)}), encoding="utf-8")
                staged.chmod(0o600)
                os.replace(out, lib)
                os.replace(staged, record)
            if not _verified(lib, record, key):  # pragma: no cover - raced by another builder
                raise UnsafeCache(f"tree cache: {lib} changed while it was being built")
        sigmoid = 1.0
        for part in str(booster.dump_model(num_iteration=0).get("objective", "")).split():
            if part.startswith("sigmoid:"):
                sigmoid = float(part.split(":", 1)[1])
        return cls(lib, num_features=booster.num_feature(), sigmoid=sigmoid)

    def raw(self, x: np.ndarray, *, threads: int = THREADS) -> np.ndarray:
        """LightGBM's raw score (log-odds) per row of a float matrix (C order float64 is used as is)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected a 2-D matrix with {self.num_features} columns, got shape {x.shape}")
        out = np.empty(x.shape[0], dtype=np.float64)
        n, k = x.shape
        if n == 0:
            return out
        threads = max(1, min(int(threads), -(-n // BLOCK)))
        if threads == 1 or n <= CHUNK:
            self._fn(x.ctypes.data, n, k, out.ctypes.data)
            return out
        # one contiguous share per thread: no per-chunk hand-offs, and every row is scored the same way
        bounds = np.linspace(0, n, threads + 1).astype(int)

        def run(i: int) -> None:
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            self._fn(x[lo:].ctypes.data, hi - lo, k, out[lo:].ctypes.data)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, range(threads)))
        return out

    def predict(self, x: np.ndarray, *, threads: int = THREADS) -> np.ndarray:
        """Probabilities, as ``Booster.predict`` gives for a binary model (``1 / (1 + exp(-sigmoid * raw))``)."""
        return 1.0 / (1.0 + np.exp(-self.sigmoid * self.raw(x, threads=threads)))
