"""Compiled trees in C: the forest written out as bit-vector code, built with the system C compiler.

Same split semantics as LightGBM (and :mod:`training.compiled`), with the same bits. Each tree is
evaluated for several rows at once with no branch: every split of the tree is one vector compare (each
missing-value rule folds into it: a comparison with NaN is false), a split that sends a row right clears
its left subtree's leaves from the row's leaf set, and the lowest leaf left is the row's exit leaf
(QuickScorer's rule). Rows go through in blocks, each tree over the whole block before the next. A tree
too wide for a 64-bit leaf set is nested if/else instead. Generic code (2 rows per compare) runs anywhere;
on x86-64 an AVX2 copy (4 rows) is chosen at run time, so no machine-specific flag is needed.
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


def _node_code(node: dict, cats: list[str], depth: int, value: str) -> str:
    """A tree as nested if/else (for a tree with more leaves than a bit vector holds)."""
    pad = " " * depth
    if _is_leaf(node):
        return f"{pad}return {_leaf(node)};\n"
    left, right = node["left_child"], node["right_child"]
    if _is_leaf(left) and _is_leaf(right):  # last split: a table look-up, no branch to mispredict
        return (f"{pad}{{ static const double v[2] = {{{_leaf(left)}, {_leaf(right)}}};\n"
                f"{pad}  return v[!{_cond(node, cats, value)}]; }}\n")
    # the side more training rows took is laid out as the fall-through path
    hint = "1" if _count(left) >= _count(right) else "0"
    test = f"(__builtin_expect({_cond(node, cats, value)}, {hint}))"
    return (f"{pad}if {test} {{\n" + _node_code(left, cats, depth + 1, value)
            + f"{pad}}} else {{\n" + _node_code(right, cats, depth + 1, value) + f"{pad}}}\n")


def _category_set(node: dict) -> list[int]:
    return sorted(int(c) for c in str(node["threshold"]).split("||"))


def _cond(node: dict, cats: list[str], value: str) -> str:
    """The parenthesised C test that sends one row to the left child (``value`` formats a feature's read)."""
    f = int(node["split_feature"])
    v = value.format(f)
    if node["decision_type"] == "==":
        # LightGBM's CategoricalDecision: NaN and codes below 0 (after truncation toward zero) go right
        values = _category_set(node)
        n = max(values) + 1
        # no branch: the range test and the bit are both computed; the clamp keeps the conversion defined
        # (fmax sends NaN to 0, which the range test then refuses)
        at = f"(int)fmin(fmax({v}, 0.0), {n - 1}.0)"
        in_range = f"(({v} > -1.0) & ({v} < {n}.0))"
        if n <= 64:
            mask = sum(1 << c for c in values)
            return f"({in_range} & (int)(({mask}ULL >> {at}) & 1ULL))"
        return f"({in_range} & {_category_table(values, cats)}[{at}])"
    if node["decision_type"] == "<=":
        return _numeric_cond(v, float(node["threshold"]), node.get("missing_type", "None"),
                             bool(node.get("default_left")))
    raise ValueError(f"unsupported decision type {node['decision_type']!r}")


def _category_table(values: list[int], cats: list[str]) -> str:
    """The name of a byte table (1 = go left) for a category set too wide for a 64-bit mask."""
    bits = [0] * (max(values) + 1)
    for c in values:
        bits[c] = 1
    table = "{" + ",".join(map(str, bits)) + "}"
    if table not in cats:
        cats.append(table)
    return f"cat_{cats.index(table)}"


# The trees as bit vectors (QuickScorer's exit-leaf rule): every split of a tree is tested for LANES rows at
# once with vector compares, no branch; a split that sends a row right clears the leaves of its left subtree
# from the row's 64-bit leaf set, and the row's exit leaf is the lowest leaf left (leaves numbered left to
# right). Rows are scored in blocks of BLOCK, copied column by column into a block the compares read whole;
# every tree is evaluated over the block before the next (its code stays hot), and leaf values are added in
# tree order, in double, as LightGBM does (same bits). Generic code uses 2 lanes (SSE2 on x86-64, NEON on
# ARM); on x86-64 a second copy of the trees with 4 lanes is compiled for AVX2 and chosen at run time, so the
# library is portable and needs no machine-specific flags.
MAX_VECTOR_LEAVES = 64
_ISAS = (("generic", 2, ""), ("avx2", 4, '__attribute__((target("avx2"))) '))


def _leaves(node: dict) -> list[dict]:
    return [node] if _is_leaf(node) else _leaves(node["left_child"]) + _leaves(node["right_child"])


def _vector_split(node: dict, v: str, onehot: str, cats: list[str], left: int) -> str:
    """The statement that updates the leaf set ``m`` at one split (``left``: its left subtree's leaves)."""
    keep = ((1 << 64) - 1) & ~left  # what a row that goes right keeps
    if node["decision_type"] == "==":
        values = _category_set(node)
        if max(values) < 64:  # the row's category as one bit (onehot): in the set or not
            mask = sum(1 << c for c in values)
            return f"    m &= ~((U)(({onehot} & {mask}ULL) == 0) & {left}ULL);\n"
        test = _cond(node, cats, f"{v}[l]")  # wider sets: each lane through the byte table
        return (f"    {{ U c; for (int l = 0; l < LANES; l++) c[l] = -(unsigned long long){test};\n"
                f"      m &= c | {keep}ULL; }}\n")
    if node["decision_type"] != "<=":
        raise ValueError(f"unsupported decision type {node['decision_type']!r}")
    thr, missing = float(node["threshold"]), node.get("missing_type", "None")
    default_left = bool(node.get("default_left"))
    t = repr(thr)
    # as _numeric_cond: v <= t sends NaN right, !(v > t) sends it left (a compare with NaN is false)
    if missing == "NaN":
        nan_left = default_left
    elif missing == "Zero" and not (default_left and thr >= _ZERO_VALUE) and not (not default_left and thr < -_ZERO_VALUE):
        zero = f"(({v} != {v}) | ((D)((U){v} & 0x7fffffffffffffffULL) <= (double){_ZERO}))"
        go = f"({zero} | ({v} <= {t}))" if default_left else f"(~{zero} & ({v} <= {t}))"
        return f"    m &= (U){go} | {keep}ULL;\n"
    elif missing == "Zero":
        nan_left = default_left
    else:  # None: NaN is read as 0.0
        nan_left = thr >= 0.0
    if nan_left:
        return f"    m &= ~((U)({v} > {t}) & {left}ULL);\n"
    return f"    m &= (U)({v} <= {t}) | {keep}ULL;\n"


def _tree_code(i: int, tree: dict, cats: list[str], onehot: dict[int, int], isa: str, attr: str) -> str:
    """``tree_<i>_<isa>(xt, oh, acc)``: adds tree ``i``'s leaf value to ``acc`` for every row of a block."""
    head = (f"static {attr}__attribute__((noinline)) void tree_{i}_{isa}(const double *restrict xt, "
            "const unsigned long long *restrict oh, double *restrict acc) {\n")
    root = tree["tree_structure"]
    leaves = _leaves(root)
    if len(leaves) == 1:
        return head + f"  for (int j = 0; j < BLOCK; j++) acc[j] += {_leaf(root)};\n}}\n"
    if len(leaves) > MAX_VECTOR_LEAVES:  # too many leaves for one bit vector: nested if/else, row by row
        return head + f"  for (int j = 0; j < BLOCK; j++) acc[j] += row_tree_{i}(xt, j);\n}}\n"
    lines: list[str] = []
    features: set[int] = set()  # read as doubles
    bits: set[int] = set()  # read as onehot category bits

    def walk(node: dict, first: int) -> int:
        if _is_leaf(node):
            return 1
        n_left = walk(node["left_child"], first)
        n_right = walk(node["right_child"], first + n_left)
        f = int(node["split_feature"])
        by_bit = node["decision_type"] == "==" and max(_category_set(node)) < 64
        (bits if by_bit else features).add(f)
        lines.append(_vector_split(node, f"x{f}", f"o{f}", cats, ((1 << n_left) - 1) << first))
        return n_left + n_right

    walk(root, 0)
    loads = "".join(f"    const D x{f} = *(const D *)(xt + {f} * BLOCK + j);\n" for f in sorted(features))
    loads += "".join(f"    const U o{f} = *(const U *)(oh + {onehot[f]} * BLOCK + j);\n"
                     for f in sorted(bits))
    return (head + "  for (int j = 0; j < BLOCK; j += LANES) {\n" + loads + "    U m = ~(U){0};\n"
            + "".join(lines)
            + "#pragma GCC unroll 8\n"  # each lane's exit leaf, with no loop branch
            + f"    for (int l = 0; l < LANES; l++) acc[j + l] += leaves_{i}[__builtin_ctzll(m[l])];\n  }}\n}}\n")


def _onehot_features(trees: list[dict]) -> dict[int, int]:
    """Features with a category split whose set fits 64 bits: each gets a onehot column in the block."""
    found: dict[int, int] = {}

    def scan(node: dict) -> None:
        if _is_leaf(node):
            return
        if node["decision_type"] == "==" and max(_category_set(node)) < 64:
            found.setdefault(int(node["split_feature"]), len(found))
        scan(node["left_child"])
        scan(node["right_child"])

    for tree in trees:
        scan(tree["tree_structure"])
    return found


def _forest_code(trees: list[dict], cats: list[str], onehot: dict[int, int], k: int, isa: str, lanes: int,
                 attr: str) -> str:
    """The trees and ``forest_<isa>``, which scores rows given as column pointers, block by block."""
    types = (f"#define LANES {lanes}\n#define D d_{isa}\n#define U u_{isa}\n"
             f"typedef double D __attribute__((vector_size({8 * lanes}), may_alias));\n"
             f"typedef unsigned long long U __attribute__((vector_size({8 * lanes}), may_alias));\n")
    body = "".join(_tree_code(i, t, cats, onehot, isa, attr) for i, t in enumerate(trees))
    codes = "".join(f"    {{ const double *c = col[{f}] + b; for (long r = 0; r < e; r++) "
                    f"oh[{j} * BLOCK + r] = (c[r] > -1.0 && c[r] < 64.0) ? 1ULL << (int)c[r] : 0; }}\n"
                    for f, j in onehot.items())
    calls = "".join(f"    tree_{i}_{isa}(xt, oh, acc);\n" for i in range(len(trees)))
    storage = "static " if isa == "generic" else '__attribute__((visibility("hidden"))) '
    # the block lives on the heap (a wide model's block would not fit a thread's stack); 1 = out of memory
    size_x, size_o = f"sizeof(double) * {k} * BLOCK", f"sizeof(unsigned long long) * {max(1, len(onehot))} * BLOCK"
    driver = (f"{storage}{attr}int forest_{isa}(const double *const *col, long n, double *restrict out) {{\n"
              f"  double *xt = aligned_alloc(64, {size_x});\n"
              f"  unsigned long long *oh = aligned_alloc(64, {size_o});\n"
              "  if (!xt || !oh) { free(xt); free(oh); return 1; }\n"
              "  double acc[BLOCK] __attribute__((aligned(64)));\n"
              "  for (long b = 0; b < n; b += BLOCK) {\n"
              "    long e = n - b < BLOCK ? n - b : BLOCK;\n"
              "    if (e < BLOCK) {  /* the last, short block: the rest of it is zeros (scored, not kept) */\n"
              f"      memset(xt, 0, {size_x});\n      memset(oh, 0, {size_o});\n    }}\n"
              f"    for (int f = 0; f < {k}; f++) memcpy(xt + f * BLOCK, col[f] + b, e * sizeof(double));\n"
              + codes +
              "    for (int j = 0; j < BLOCK; j++) acc[j] = 0.0;\n"
              + calls +
              "    memcpy(out + b, acc, e * sizeof(double));\n  }\n  free(xt);\n  free(oh);\n  return 0;\n}\n")
    return types + body + driver + "#undef LANES\n#undef D\n#undef U\n"


def source(booster) -> str:
    """The C source of the scoring entry points (all give the same bits, and return 0, or 1 when out of memory;
    see :class:`NativeForest`):

    ``predict_cols(const double *const *col, long n, double *out)``: column ``f`` of the rows at ``col[f]``;
    ``predict_raw(const double *X, long n, long k, double *out)``: a C-order ``n × k`` matrix;
    ``predict_cols_generic`` / ``predict_raw_generic``: the generic (non-AVX2) code, whatever the CPU (tests);
    ``kernel_isa()``: the code ``predict_cols`` chose on this CPU (``"avx2"`` or ``"generic"``);
    ``to_probability(double *p, long n, double sigmoid)``: raw scores to probabilities in place.
    """
    dump = booster.dump_model()
    objective = str(dump.get("objective", "binary"))
    if not objective.startswith("binary") or dump.get("num_tree_per_iteration", 1) != 1:
        raise ValueError(f"compiled prediction supports binary models, got objective {objective!r}")
    trees = dump["tree_info"]
    k = booster.num_feature()
    cats: list[str] = []
    onehot = _onehot_features(trees)
    row_trees = "".join(
        f"static double row_tree_{i}(const double *restrict xt, int j) {{\n"
        f"{_node_code(t['tree_structure'], cats, 1, 'xt[{} * BLOCK + j]')}}}\n"
        for i, t in enumerate(trees) if len(_leaves(t["tree_structure"])) > MAX_VECTOR_LEAVES)
    leaf_tables = "".join(
        f"static const double leaves_{i}[] = {{{','.join(_leaf(leaf) for leaf in _leaves(t['tree_structure']))}}};\n"
        for i, t in enumerate(trees) if 1 < len(_leaves(t["tree_structure"])) <= MAX_VECTOR_LEAVES)
    generic = _forest_code(trees, cats, onehot, k, *_ISAS[0])
    avx2 = _forest_code(trees, cats, onehot, k, *_ISAS[1])
    header = (f"#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n#define BLOCK {BLOCK}\n"
              + "".join(f"static const unsigned char cat_{i}[] = {c};\n" for i, c in enumerate(cats))
              + leaf_tables + row_trees)
    # two parts that compile in parallel (FOREST_PART 1: generic code and entry points; 2: the AVX2 copy);
    # without FOREST_PART the source is one whole unit
    entry = (
        "#endif\n#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))\n#define HAVE_AVX2 1\n"
        "#if !defined(FOREST_PART) || FOREST_PART == 2\n" + avx2 + "#else\n"
        "int forest_avx2(const double *const *col, long n, double *restrict out);\n#endif\n#endif\n"
        "#if !defined(FOREST_PART) || FOREST_PART == 1\n"
        "static int use_avx2(void) {\n#ifdef HAVE_AVX2\n  static int known = -1;\n"
        "  if (known < 0) { __builtin_cpu_init(); known = __builtin_cpu_supports(\"avx2\") != 0; }\n"
        "  return known;\n#else\n  return 0;\n#endif\n}\n"
        "const char *kernel_isa(void) { return use_avx2() ? \"avx2\" : \"generic\"; }\n"
        "int predict_cols_generic(const double *const *col, long n, double *out) { return forest_generic(col, n, out); }\n"
        "int predict_cols(const double *const *col, long n, double *out) {\n#ifdef HAVE_AVX2\n"
        "  if (use_avx2()) return forest_avx2(col, n, out);\n#endif\n  return forest_generic(col, n, out);\n}\n"
        "typedef int (*score_fn)(const double *const *, long, double *);\n"
        "static int by_rows(const double *X, long n, long k, double *out, score_fn score) {\n"
        "  /* rows in C order: a block's columns are gathered into a small column-major copy first */\n"
        f"  double *t = malloc(sizeof(double) * {k} * BLOCK);\n  const double **col = malloc(sizeof(double *) * {k});\n"
        "  int bad = !t || !col;\n"
        f"  for (int f = 0; !bad && f < {k}; f++) col[f] = t + f * BLOCK;\n"
        "  for (long b = 0; !bad && b < n; b += BLOCK) {\n    long e = n - b < BLOCK ? n - b : BLOCK;\n"
        f"    for (long r = 0; r < e; r++) for (int f = 0; f < {k}; f++) t[f * BLOCK + r] = X[(b + r) * k + f];\n"
        "    bad = score(col, e, out + b);\n  }\n  free(t);\n  free(col);\n  return bad;\n}\n"
        "/* LightGBM's sigmoid with the C library's exp, as LightGBM computes it (numpy's exp may differ by an ulp) */\n"
        "void to_probability(double *p, long n, double sigmoid) {\n"
        "  for (long r = 0; r < n; r++) p[r] = 1.0 / (1.0 + exp(-sigmoid * p[r]));\n}\n"
        "int predict_raw(const double *X, long n, long k, double *out) { return by_rows(X, n, k, out, predict_cols); }\n"
        "int predict_raw_generic(const double *X, long n, long k, double *out) {\n"
        "  return by_rows(X, n, k, out, predict_cols_generic);\n}\n#endif\n")
    return header + "#if !defined(FOREST_PART) || FOREST_PART == 1\n" + generic + entry


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


def _compile(cc: str, flags: tuple[str, ...], src: Path, out: Path) -> None:
    """Build the shared library ``out`` from ``src``: its two parts compiled side by side, then linked."""
    parts = [src.with_name(f"part{p}.o") for p in (1, 2)]

    def run(args: list[str]) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=1200)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, [[cc, *flags, "-fPIC", "-c", f"-DFOREST_PART={p}", "-o", str(obj), str(src)]
                            for p, obj in zip((1, 2), parts, strict=True)]))
    run([cc, *flags, "-shared", "-fPIC", "-o", str(out), *map(str, parts), "-lm"])


class NativeForest:
    """A binary LightGBM model compiled to a shared library; :meth:`predict` as ``Booster.predict``.

    :meth:`raw` (a matrix) and :meth:`raw_columns` (one array per feature, e.g. a frame's own columns, not
    copied) give LightGBM's raw scores bit for bit (leaf values added in tree order, in double); rows are
    split over ``threads`` threads (ctypes releases the GIL), each row scored by one thread, so the result
    does not depend on the thread count. ``generic=True`` uses the generic code on any CPU (``isa`` says
    which code scores).
    """

    def __init__(self, lib_path: Path, *, num_features: int, sigmoid: float = 1.0, generic: bool = False) -> None:
        self._lib = ctypes.CDLL(str(lib_path))
        suffix = "_generic" if generic else ""
        self._rows = getattr(self._lib, "predict_raw" + suffix)
        self._rows.restype = ctypes.c_int
        self._rows.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
        self._cols = getattr(self._lib, "predict_cols" + suffix)
        self._cols.restype = ctypes.c_int
        self._cols.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
        self._sigmoid = self._lib.to_probability
        self._sigmoid.restype = None
        self._sigmoid.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_double]
        self._lib.kernel_isa.restype = ctypes.c_char_p
        self.isa = "generic" if generic else self._lib.kernel_isa().decode("ascii")
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
                _compile(cc, flags, src, out)
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
        """LightGBM's raw score (log-odds) per row of a float matrix (float64 in C or Fortran order is read
        in place; anything else is copied first)."""
        return self._matrix(x, threads, probability=False)

    def raw_columns(self, columns: list[np.ndarray], *, threads: int = THREADS) -> np.ndarray:
        """As :meth:`raw`, for the rows given column by column: one 1-D float64 array per feature, in the
        model's feature order (contiguous arrays are read in place)."""
        return self._columns(columns, threads, probability=False)

    def predict(self, x: np.ndarray, *, threads: int = THREADS) -> np.ndarray:
        """Probabilities, as ``Booster.predict`` gives for a binary model: ``1 / (1 + exp(-sigmoid * raw))``
        with the C library's ``exp``, as LightGBM computes it (the same bits)."""
        return self._matrix(x, threads, probability=True)

    def predict_columns(self, columns: list[np.ndarray], *, threads: int = THREADS) -> np.ndarray:
        """As :meth:`predict`, for the rows given column by column (see :meth:`raw_columns`)."""
        return self._columns(columns, threads, probability=True)

    def _matrix(self, x: np.ndarray, threads: int, *, probability: bool) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected a 2-D matrix with {self.num_features} columns, got shape {x.shape}")
        if x.dtype == np.float64 and x.flags.f_contiguous and not x.flags.c_contiguous:
            return self._columns(list(x.T), threads, probability=probability)
        x = np.ascontiguousarray(x, dtype=np.float64)
        n, k = x.shape
        return self._split(n, threads, probability,
                           lambda lo, hi, out: self._rows(x[lo:].ctypes.data, hi - lo, k, out[lo:].ctypes.data))

    def _columns(self, columns: list[np.ndarray], threads: int, *, probability: bool) -> np.ndarray:
        if len(columns) != self.num_features:
            raise ValueError(f"expected {self.num_features} columns, got {len(columns)}")
        cols = [np.ascontiguousarray(c, dtype=np.float64) for c in columns]
        n = len(cols[0]) if cols else 0
        if any(c.ndim != 1 or len(c) != n for c in cols):
            raise ValueError(f"expected {self.num_features} one-dimensional columns of one length, got shapes "
                             f"{sorted({c.shape for c in cols})}")
        base = np.array([c.ctypes.data for c in cols], dtype=np.uintp)

        def run(lo: int, hi: int, out: np.ndarray) -> int:
            at = base + np.uintp(8 * lo)  # each column's pointer moved to row lo
            return self._cols(at.ctypes.data, hi - lo, out[lo:].ctypes.data)

        return self._split(n, threads, probability, run)

    def _split(self, n: int, threads: int, probability: bool, run) -> np.ndarray:
        """``run(lo, hi, out)`` (0, or 1 when out of memory) over one contiguous share of the ``n`` rows per
        thread, then the sigmoid."""
        out = np.empty(n, dtype=np.float64)

        def share(lo: int, hi: int) -> None:
            if run(lo, hi, out):
                raise MemoryError(f"compiled trees: no memory for a block of {BLOCK} rows")
            if probability:
                self._sigmoid(out[lo:].ctypes.data, hi - lo, self.sigmoid)

        if n == 0:
            return out
        threads = max(1, min(int(threads), -(-n // BLOCK)))
        if threads == 1 or n <= CHUNK:
            share(0, n)
            return out
        # one contiguous share per thread: no per-chunk hand-offs, and every row is scored the same way
        bounds = np.linspace(0, n, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: share(int(bounds[i]), int(bounds[i + 1])), range(threads)))
        return out
