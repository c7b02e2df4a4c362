"""Fused elementwise kernels: C generated from the op table's scalar expressions, compiled by
the system C compiler (-O3 -march=native, OpenMP, glibc's vectorized libm through
-ffast-math without finite-math), cached on disk by hash; a numpy runner as fallback.

Which one runs is decided by measurement: the first call of a kernel times the compiled
kernel against the numpy runner on the real inputs and keeps the faster.
"""
from __future__ import annotations

import ast
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings

import numpy as np

from .._ops._addr import addr
from .._threads import in_forked_child
from ._ir import Graph, Node, promotion_plan

# No -ffast-math: NaN/inf semantics stay IEEE (maximum propagates NaN as torch does); the
# vectorized libm comes from declaring glibc's libmvec variants ourselves (_SIMD_DECLS).
# No contraction of a*b+c into one fused multiply-add: every operation rounds as numpy's
# does, so a compiled graph gives eager's numbers bit for bit whichever runner (C or numpy)
# the measurement picks (the GEMM's own FMAs are intrinsics, which this does not touch).
CFLAGS = ["-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fopenmp",
          "-shared", "-fPIC", "-std=gnu11"]
_VEC_FNS = ("exp", "log", "sin", "cos", "tanh", "erf", "pow")
_SIMD_DECLS = "".join(
    f"#pragma omp declare simd notinbranch\n{t} {f}{s}({', '.join([t] * (2 if f == 'pow' else 1))});\n"
    for f in _VEC_FNS for t, s in (("float", "f"), ("double", "")))
_CTYPE = {"float32": "float", "float64": "double", "bool": "unsigned char",
          "int64": "int64_t", "int32": "int32_t", "int16": "int16_t", "int8": "int8_t",
          "uint8": "uint8_t"}
_FLOAT = ("float32", "float64")


class Unsupported(Exception):
    """The fused body uses something the C generator does not handle (numpy runs it)."""


def cache_dir() -> str:
    """Where compiled kernels live (``$ARDOR_CACHE_DIR`` or ~/.cache/ardor/kernels)."""
    d = os.environ.get("ARDOR_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "ardor", "kernels")
    try:
        os.makedirs(d, exist_ok=True)
        if not os.access(d, os.W_OK):
            raise PermissionError(d)
    except OSError:  # read-only home: a per-process directory (no reuse across processes)
        if not _TMP:
            _TMP.append(tempfile.mkdtemp(prefix="ardor-kernels-"))
        d = _TMP[0]
    return d


_TMP: list = []


# ------------------------------------------------------------------------ expressions
_PARSED: dict = {}


def parse_expr(src: str):
    """An op's ``expr`` string as a tree: ('call', f, [..]) / ('var', n) / ('const', v)."""
    t = _PARSED.get(src)
    if t is None:
        t = _PARSED[src] = _conv(ast.parse(src, mode="eval").body)
    return t


def _conv(e):
    if isinstance(e, ast.Call):
        return ("call", e.func.id, [_conv(a) for a in e.args])
    if isinstance(e, ast.Name):
        return ("var", e.id)
    if isinstance(e, ast.Constant):
        return ("const", e.value)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        v = _conv(e.operand)
        if v[0] == "const":
            return ("const", -v[1])
        return ("call", "neg", [v])
    raise Unsupported(f"expression syntax {ast.dump(e)}")


def _np_name(dt) -> str:
    return np.dtype(dt).name


def _c_lit(v, ct: str) -> str:
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, float):
        if v != v:
            return f"(({ct})NAN)"
        if v in (float("inf"), float("-inf")):
            return f"(({ct})({'-' if v < 0 else ''}INFINITY))"
        return f"(({ct}){v!r})"
    return f"(({ct}){int(v)})"


class _CExpr:
    """Render one node's scalar expression in C with compute type ``ct``."""

    def __init__(self, ct_name: str, env: dict, attrs: dict):
        self.ctn = ct_name
        self.ct = _CTYPE[ct_name]
        self.isf = ct_name in _FLOAT
        self.suf = "f" if ct_name == "float32" else ""
        self.env = env
        self.attrs = attrs

    def f(self, name):
        if not self.isf:
            raise Unsupported(f"{name} on {self.ctn}")
        return name + self.suf

    def r(self, t) -> str:
        kind = t[0]
        if kind == "const":
            return _c_lit(t[1], self.ct)
        if kind == "var":
            if t[1] in self.env:
                return self.env[t[1]]
            if t[1] in self.attrs:
                v = self.attrs[t[1]]
                if not isinstance(v, (int, float, bool)):
                    raise Unsupported(f"attr {t[1]}={v!r}")
                return _c_lit(v, self.ct)
            raise Unsupported(f"unknown name {t[1]}")
        fn, a = t[1], [self.r(x) for x in t[2]]
        binop = {"add": "+", "sub": "-", "mul": "*", "lt": "<", "le": "<=", "gt": ">",
                 "ge": ">=", "eq": "==", "ne": "!=", "logical_and": "&&", "logical_or": "||"}
        if fn in binop:
            return f"({a[0]} {binop[fn]} {a[1]})"
        if fn == "div":
            if not self.isf:
                raise Unsupported("integer div")
            return f"({a[0]} / {a[1]})"
        if fn == "neg":
            return f"(-{a[0]})"
        if fn == "logical_not":
            return f"(!{a[0]})"
        if fn == "where":
            return f"(({a[0]}) ? ({self.ct})({a[1]}) : ({self.ct})({a[2]}))"
        if fn == "maximum":
            return f"_max_{self.ctn}({a[0]}, {a[1]})"
        if fn == "minimum":
            return f"_min_{self.ctn}({a[0]}, {a[1]})"
        if fn == "abs":
            return f"{self.f('fabs')}({a[0]})" if self.isf else f"(({a[0]}) < 0 ? -({a[0]}) : ({a[0]}))"
        if fn == "sign":
            return f"(({self.ct})(({a[0]}) > 0) - ({self.ct})(({a[0]}) < 0))"
        if fn == "sigmoid":
            one = _c_lit(1.0, self.ct)
            return f"({one} / ({one} + {self.f('exp')}(-({a[0]}))))"
        if fn == "rsqrt":
            return f"({_c_lit(1.0, self.ct)} / {self.f('sqrt')}({a[0]}))"
        if fn == "round":
            return f"{self.f('nearbyint')}({a[0]})"
        if fn == "remainder":
            x, y = a
            return f"({x} - {self.f('floor')}({x} / {y}) * {y})"
        if fn in ("exp", "log", "sqrt", "tanh", "sin", "cos", "erf", "floor", "ceil", "trunc",
                  "pow", "fmod"):
            return f"{self.f(fn)}({', '.join(a)})"
        if fn.startswith("cast_"):
            tgt = fn[5:]
            if tgt not in _CTYPE:
                raise Unsupported(fn)
            return f"(({_CTYPE[tgt]})({a[0]}))"
        raise Unsupported(f"function {fn}")


_HELPERS = """
/* NaN-propagating max/min written as two selects (a max, then x where x is NaN): gcc
   turns these into vmaxps + blend; the "x > y || x != x" form stayed a branch, which
   mispredicts on real data (25x slower on a pooling kernel) */
#include <math.h>
#include <stdint.h>
/*SIMD*/
static inline float _max_float32(float x, float y) { float r = x > y ? x : y; return x != x ? x : r; }
static inline float _min_float32(float x, float y) { float r = x < y ? x : y; return x != x ? x : r; }
static inline double _max_float64(double x, double y) { double r = x > y ? x : y; return x != x ? x : r; }
static inline double _min_float64(double x, double y) { double r = x < y ? x : y; return x != x ? x : r; }
#define _INTMM(T, N) static inline T _max_##N(T x, T y) { return x > y ? x : y; } \\
  static inline T _min_##N(T x, T y) { return x < y ? x : y; }
_INTMM(int64_t, int64) _INTMM(int32_t, int32) _INTMM(int16_t, int16) _INTMM(int8_t, int8)
_INTMM(uint8_t, uint8) _INTMM(unsigned char, bool)
"""


def _body_statements(body: Graph, inputs=None, prefix: str = "t"):
    """C statements computing every body node into a local; returns (lines, result var).
    ``inputs``: the C expressions of the body's inputs (default x0, x1, ...); locals are
    named ``prefix`` + a number."""
    names, lines = {}, []
    for i, p in enumerate(body.placeholders):
        names[id(p)] = inputs[i] if inputs is not None else f"x{i}"
    for n in body.nodes:
        if n.kind in ("placeholder",):
            continue
        if n.kind == "output":
            return lines, names[id(n.args[0])]
        if n.kind != "call" or n.op.expr is None:
            raise Unsupported(f"node {n.name}")
        out_dt = _np_name(n.meta[1].np)
        if out_dt not in _CTYPE:
            raise Unsupported(out_dt)
        casts, pargs = promotion_plan(n)
        if casts is None:
            pargs, casts = n.args, [None] * len(n.args)
        # the compute type: the (promoted) dtype of the tensor inputs
        ct = None
        env = {}
        for letter, a, c in zip("abc", pargs, casts):
            if isinstance(a, Node):
                dt = _np_name(c) if c is not None else _np_name(a.meta[1].np)
                if dt not in _CTYPE:
                    raise Unsupported(dt)
                v = names[id(a)]
                env[letter] = f"(({_CTYPE[dt]}){v})" if c is not None else v
                if ct is None or (dt in _FLOAT and ct not in _FLOAT):
                    ct = dt
            elif a is None:
                raise Unsupported("None arg")
            else:
                env[letter] = a  # a scalar: rendered in the compute type below
        if ct is None:
            raise Unsupported("no tensor input")
        if n.op.name in ("where",):
            ct = out_dt
        for k, v in list(env.items()):
            if not isinstance(v, str):
                env[k] = _c_lit(v, _CTYPE[ct])
        try:
            tree = parse_expr(n.op.expr)
        except SyntaxError as e:  # pragma: no cover - table test guards exprs
            raise Unsupported(str(e)) from None
        rendered = _CExpr(ct, env, n.attrs).r(tree)
        var = f"{prefix}{len(names)}"
        names[id(n)] = var
        lines.append(f"{_CTYPE[out_dt]} {var} = ({_CTYPE[out_dt]})({rendered});")
    raise Unsupported("body without output")


def _bstrides(shape, out_shape):
    """Element strides of a contiguous ``shape`` array broadcast to ``out_shape``."""
    nd = len(out_shape)
    shape = (1,) * (nd - len(shape)) + tuple(shape)
    st, acc = [0] * nd, 1
    for i in range(nd - 1, -1, -1):
        st[i] = 0 if shape[i] == 1 and out_shape[i] != 1 else acc
        acc *= shape[i]
    return st


def _given_strides(shape, st, out_shape):
    """Element strides ``st`` of a ``shape`` array, broadcast to ``out_shape``."""
    nd = len(out_shape)
    pad = nd - len(shape)
    shape = (1,) * pad + tuple(shape)
    st = (0,) * pad + tuple(st)
    return [0 if shape[i] == 1 and out_shape[i] != 1 else st[i] for i in range(nd)]


def c_source(node: Node, fname: str = "kern", in_strides=None) -> str:
    """C source of one fused node's kernel. Shapes are compile-time constants, and so are
    the inputs' element strides (``in_strides[i]``; None: C-contiguous), so strided views
    are read in place."""
    body = node.attrs["body"]
    stmts, res = _body_statements(body)
    oshape = tuple(node.meta[0])
    odt = _np_name(node.meta[1].np)
    ins = body.placeholders
    nd = len(oshape)
    in_strides = in_strides or [None] * len(ins)
    strides = [_bstrides(p.meta[0], oshape) if st is None else
               _given_strides(p.meta[0], st, oshape) for p, st in zip(ins, in_strides)]
    ostr = _bstrides(oshape, oshape)
    # coalesce adjacent dims that every array walks as one (fewer, longer loops)
    dims = list(range(nd))
    groups = []
    for d in dims:
        if oshape[d] == 1:
            continue
        if groups:
            prev = groups[-1]
            pd = prev[-1]
            if all(s[pd] == s[d] * oshape[d] for s in strides + [ostr]):
                prev.append(d)
                continue
        groups.append([d])
    sizes = [int(np.prod([oshape[d] for d in g])) for g in groups]
    gstr = [[s[g[-1]] for g in groups] for s in strides]
    gost = [ostr[g[-1]] for g in groups]
    numel = int(np.prod(oshape)) if oshape else 1
    args = [f"const {_CTYPE[_np_name(p.meta[1].np)]}* restrict in{i}" for i, p in enumerate(ins)]
    args.append(f"{_CTYPE[odt]}* restrict out")
    args.append("int nt")
    L = [_HELPERS, f"void {fname}({', '.join(args)}) {{"]
    k = len(groups)
    idx = [f"i{j}" for j in range(k)]

    def off(sts):
        terms = [f"{i}*{s}" if s != 1 else i for i, s in zip(idx, sts) if s != 0]
        return " + ".join(terms) or "0"

    def nest(parallel: bool):
        out = []
        if k == 0:
            out.append("  {")
        for j in range(k):
            if j == 0 and parallel:
                out.append(f"  #pragma omp parallel for{' simd' if k == 1 else ''} "
                           "num_threads(nt) schedule(static)")
            elif j == k - 1:
                out.append("  #pragma omp simd")
            out.append(f"  for (int64_t {idx[j]} = 0; {idx[j]} < {sizes[j]}; {idx[j]}++) {{")
        for i, p in enumerate(ins):
            ct = _CTYPE[_np_name(p.meta[1].np)]
            out.append(f"    {ct} x{i} = in{i}[{off(gstr[i])}];")
        out.extend("    " + st for st in stmts)
        out.append(f"    out[{off(gost)}] = {res};")
        out.append("  }" * max(k, 1))
        return out

    # one thread: a plain vectorized loop (no OpenMP runtime call at all)
    if numel >= 1 << 15:
        L.append("  if (nt > 1) {")
        L.extend(nest(True))
        L.append("  return; }")
    L.extend(nest(False))
    L.append("}")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------------ compiling
_NOTICED = []
_COMPILER: list = []


def _compiler():
    if not _COMPILER:
        cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
        ver = ""
        if cc:
            try:
                ver = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                     timeout=30).stdout.splitlines()[0]
            except Exception:  # noqa: BLE001
                cc = None
        _COMPILER.append((cc, ver))
    return _COMPILER[0]


def _notice(msg):
    if not _NOTICED:
        _NOTICED.append(msg)
        warnings.warn(f"ardor.jit: {msg}; fused kernels run with numpy", RuntimeWarning,
                      stacklevel=3)


def compile_c(src: str):
    """Compile with glibc's vector math declared (libmvec); without it if that fails."""
    lib = _compile_c(src.replace("/*SIMD*/", _SIMD_DECLS), quiet=True)
    if lib is None:
        lib = _compile_c(src.replace("/*SIMD*/", ""))
    return lib


def _compile_c(src: str, quiet: bool = False):
    # idle OpenMP workers sleep instead of spinning for long: a spinning worker steals the
    # core the next (single-threaded) op needs. But a short spin (GOMP_SPINCOUNT, ~20 us)
    # before sleeping keeps back-to-back kernels from paying a futex wake each (measured: a
    # 5 MFLOP GEMM 98 -> 52 us). Read by libgomp when the first kernel loads it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    """Compile C source to a shared library (cached on disk by hash) and load it; None
    (after a one-line notice) when no compiler works."""
    cc, ver = _compiler()
    if cc is None:
        _notice("no C compiler found")
        return None
    key = hashlib.sha256("\0".join([src, cc, ver, *CFLAGS]).encode()).hexdigest()[:24]
    d = cache_dir()
    so = os.path.join(d, f"k_{key}.so")
    if not os.path.exists(so):
        fd, cpath = tempfile.mkstemp(suffix=".c", dir=d)
        with os.fdopen(fd, "w") as f:
            f.write(src)
        tmp = cpath[:-2] + ".so.tmp"
        r = subprocess.run([cc, *CFLAGS, cpath, "-o", tmp, "-lm"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            os.unlink(cpath)
            if not quiet:
                _notice(f"the C compiler failed ({r.stderr.strip().splitlines()[-1:]})")
            return None
        os.replace(tmp, so)
        os.replace(cpath, so[:-3] + ".c")
    try:
        return ctypes.CDLL(so)
    except OSError as e:  # e.g. a libm without the vector variants
        if not quiet:
            _notice(f"a compiled kernel does not load ({e})")
        return None


class CKernel:
    """A compiled fused kernel: ``kern(*arrays, out=None)``. Strided (non-contiguous) inputs
    get a variant compiled for their strides (a few per kernel; beyond that, or for
    negative strides or other dtypes, such inputs are copied)."""

    MAX_VARIANTS = 4

    def __init__(self, lib, node):
        self.node = node
        self.nt = 1
        self.shape = tuple(node.meta[0])
        self.dtype = node.meta[1].np
        self.in_dt = [p.meta[1].np for p in node.attrs["body"].placeholders]
        self.empty = 0 in self.shape
        self.variants = {None: self._fn(lib)}

    def _fn(self, lib):
        fn = lib.kern
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * (len(self.in_dt) + 1) + [ctypes.c_int]
        return fn

    def _variant(self, key):
        fn = self.variants.get(key)
        if fn is None and len(self.variants) < self.MAX_VARIANTS:
            lib = compile_c(c_source(self.node, in_strides=list(key)))
            if lib is not None:
                fn = self.variants[key] = self._fn(lib)
        return fn

    def __call__(self, *arrays, out=None):
        if out is None:
            out = np.empty(self.shape, self.dtype)
        if self.empty:
            return out
        ptrs, hold, key = [], [], None
        for i, (a, dt) in enumerate(zip(arrays, self.in_dt)):
            if type(a) is not np.ndarray or a.dtype != dt:
                a = np.ascontiguousarray(a, dtype=dt)
                hold.append(a)  # keep the copy alive until the kernel has run
            elif not a.flags.c_contiguous:
                it = a.itemsize
                if all(st >= 0 and st % it == 0 for st in a.strides):
                    key = key or [None] * len(self.in_dt)
                    key[i] = tuple(st // it for st in a.strides)
                else:
                    a = np.ascontiguousarray(a)
                    hold.append(a)
            ptrs.append(addr(a))
        fn = self.variants[None]
        if key is not None:
            fn = self._variant(tuple(key))
            if fn is None:  # too many stride patterns: copy the strided inputs
                return self(*[np.ascontiguousarray(a) for a in arrays], out=out)
        ptrs.append(addr(out))
        fn(*ptrs, 1 if in_forked_child() else self.nt)
        del hold
        return out


def numpy_kernel(node: Node):
    """The numpy runner of a fused node (its body's generated Python)."""
    from ._codegen import generate
    body = node.attrs["body"]
    run = generate(body).fn
    tensors = body.tensors

    def kern(*arrays, out=None):
        r = run(tensors, None, *arrays)
        if out is not None:
            np.copyto(out, r)
            return out
        return r
    kern.kind = "numpy"
    return kern


class Measured:
    """Times the compiled kernel (one thread and, for >= 1M elements, all threads) against
    the numpy runner on the first call with real inputs, and keeps the fastest by median.
    (On a loaded machine OpenMP's barriers can make more threads much slower, so threads
    are only taken for big kernels and when 1.5x faster.)"""

    def __init__(self, ck, nk):
        self.ck, self.nk = ck, nk
        self.chosen = None
        self.times = {}

    def __call__(self, *arrays, out=None):
        if self.chosen is not None:
            return self.chosen(*arrays, out=out)
        ncpu = os.cpu_count() or 1
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover
            pass
        nts = [1] + ([ncpu] if ncpu > 1 and 0 not in self.ck.shape
                     and int(np.prod(self.ck.shape)) >= 1 << 20 else [])
        nts = nts[:1] if len(nts) > 1 and ncpu == 1 else nts
        samples: dict = {}
        # time into a scratch output: ``out`` may be an input's storage (in-place update),
        # and the trial runs must not apply the update several times
        scratch = np.empty(self.ck.shape, self.ck.dtype)
        for rep in range(6):  # round 0 warms up (page faults, lazy symbol binding)
            for nt in nts:
                self.ck.nt = nt
                t0 = time.perf_counter()
                self.ck(*arrays, out=scratch)
                if rep:
                    samples.setdefault(f"c{nt}", []).append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            self.nk(*arrays)
            if rep:
                samples.setdefault("numpy", []).append(time.perf_counter() - t0)
        # medians: on a busy machine a best-of-N hides how often threads wait on each other
        best = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
        if len(nts) > 1 and best[f"c{nts[1]}"] * 1.5 > best["c1"]:
            best.pop(f"c{nts[1]}")  # more threads only when clearly faster
        self.times = best
        pick = min(best, key=best.get)
        if pick == "numpy":
            self.chosen = self.nk
        else:
            self.ck.nt = int(pick[1:])
            self.chosen = self.ck
        return self.chosen(*arrays, out=out)


def build_kernel(node: Node, backend: str = "auto"):
    """The kernel for a fused node: 'c', 'numpy', or 'auto' (measured)."""
    nk = numpy_kernel(node)
    if backend == "numpy":
        return nk
    try:
        src = c_source(node)
    except Unsupported:
        return nk
    lib = compile_c(src)
    if lib is None:
        return nk
    ck = CKernel(lib, node)
    if backend == "c":
        return ck
    return Measured(ck, nk)
