"""ardor.jit.save / load: a zip of the graph as JSON plus raw weights. No pickle.

Layout::

    manifest.json      {"format": "ardor.jit", "version": 1, "files": {name: sha256}}
    graph.json         nodes, tensor table, constants, mutations, output structure
    tensors/<i>.bin    raw little-endian bytes of each tensor (C order)

Loading trusts nothing: every member's SHA-256 must match the manifest, the JSON may only
use the documented value encodings, ops are looked up by name in the op table (no code is
ever imported or evaluated), tensor byte sizes must match their shapes and dtypes, and the
rebuilt graph must pass the verifier — all before anything runs.
"""
from __future__ import annotations

import hashlib
import json
import math
import zipfile

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _make
from ._ir import KINDS, Graph, Node, GraphError

FORMAT, VERSION = "ardor.jit", 1
_MAX_DEPTH = 32


class SerializationError(RuntimeError):
    """A saved graph that cannot be loaded (corrupt, tampered or unsupported)."""


# --------------------------------------------------------------------------- encoding
def _dtype_by_name(name: str):
    import ardor
    dt = getattr(ardor, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not isinstance(dt, D.dtype):
        raise SerializationError(f"unknown dtype {name!r}")
    return dt


def _dt_name(dt) -> str:
    return str(dt).rsplit(".", 1)[-1]


def _enc(v, depth=0):
    if depth > _MAX_DEPTH:
        raise ValueError("value nested too deeply to save")
    if isinstance(v, Node):
        return {"$node": v.name}
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, complex):
        return {"$complex": [v.real, v.imag]}
    if isinstance(v, D.dtype):
        return {"$dtype": _dt_name(v)}
    if isinstance(v, np.dtype):
        return {"$npdtype": v.name}
    if isinstance(v, tuple):
        return {"$tuple": [_enc(x, depth + 1) for x in v]}
    if isinstance(v, list):
        return [_enc(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {"$dict": [[_enc(k, depth + 1), _enc(x, depth + 1)] for k, x in v.items()]}
    if isinstance(v, slice):
        return {"$slice": [_enc(v.start), _enc(v.stop), _enc(v.step)]}
    if v is Ellipsis:
        return {"$ellipsis": True}
    if isinstance(v, np.ndarray) and v.size <= 4096:
        return {"$array": v.tolist(), "dtype": v.dtype.name}
    if _builtin_exception(getattr(v, "__name__", None)) is v:  # a scripted raise's class
        return {"$exc": v.__name__}
    raise ValueError(f"cannot save a value of type {type(v).__name__} in a graph: {v!r}")


def _dec(v, nodes, depth=0):
    if depth > _MAX_DEPTH:
        raise SerializationError("value nested too deeply")
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, list):
        return [_dec(x, nodes, depth + 1) for x in v]
    if not isinstance(v, dict) or len(v) not in (1, 2):
        raise SerializationError(f"unexpected value {str(v)[:80]!r}")
    (key, x), *rest = v.items()
    if key == "$node":
        if x not in nodes:
            raise SerializationError(f"reference to undefined node {x!r}")
        return nodes[x]
    if key == "$float" and x in ("nan", "inf", "-inf"):
        return float(x)
    if key == "$complex" and isinstance(x, list) and len(x) == 2:
        return complex(float(x[0]), float(x[1]))
    if key == "$dtype":
        return _dtype_by_name(x)
    if key == "$npdtype":
        try:
            return np.dtype(str(x))
        except TypeError:
            raise SerializationError(f"unknown dtype {x!r}") from None
    if key == "$tuple" and isinstance(x, list):
        return tuple(_dec(e, nodes, depth + 1) for e in x)
    if key == "$dict" and isinstance(x, list):
        out = {}
        for kv in x:
            if not isinstance(kv, list) or len(kv) != 2:
                raise SerializationError("malformed dict entry")
            k = _dec(kv[0], nodes, depth + 1)
            if not isinstance(k, (str, int, float, bool, tuple)) and k is not None:
                raise SerializationError("unhashable dict key")
            out[k] = _dec(kv[1], nodes, depth + 1)
        return out
    if key == "$slice" and isinstance(x, list) and len(x) == 3:
        parts = [_dec(e, nodes, depth + 1) for e in x]
        if not all(p is None or isinstance(p, int) for p in parts):
            raise SerializationError("malformed slice")
        return slice(*parts)
    if key == "$ellipsis":
        return Ellipsis
    if key == "$exc":
        cls = _builtin_exception(x)
        if cls is None:
            raise SerializationError(f"unknown exception class {str(x)[:80]!r}")
        return cls
    if key == "$array" and rest and rest[0][0] == "dtype":
        try:
            return np.asarray(x, dtype=np.dtype(str(rest[0][1])))
        except (TypeError, ValueError):
            raise SerializationError("malformed array value") from None
    raise SerializationError(f"unknown value encoding {key!r}")


def _builtin_exception(name):
    """The built-in exception class called ``name`` (an Exception subclass), else None."""
    import builtins
    v = getattr(builtins, name, None) if isinstance(name, str) and name.isidentifier() \
        and not name.startswith("_") else None
    return v if isinstance(v, type) and issubclass(v, Exception) else None


def _enc_meta(meta):
    if meta is None:
        return None
    if not isinstance(meta[1], D.dtype):
        return [_enc_meta(m) for m in meta]
    return {"shape": list(meta[0]), "dtype": _dt_name(meta[1])}


def _dec_meta(m):
    if m is None:
        return None
    if isinstance(m, list):
        return tuple(_dec_meta(x) for x in m)
    if not isinstance(m, dict) or set(m) != {"shape", "dtype"} or not isinstance(m["shape"], list) \
            or not all(isinstance(s, int) and s >= 0 for s in m["shape"]):
        raise SerializationError("malformed shape/dtype metadata")
    return (tuple(m["shape"]), _dtype_by_name(m["dtype"]))


# ----------------------------------------------------------- callables of script graphs
# A scripted graph's pycall nodes hold Python callables. They are saved by name, from a
# closed list, and loading resolves names only from that list: a tampered archive can name
# nothing else (no getattr of private names, no operator.call, no file-writing function).
_OPERATORS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_",
              "or_", "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne", "is_",
              "is_not", "neg", "pos", "invert", "not_", "getitem", "contains", "index")
_BUILTINS = ("len", "range", "int", "float", "bool", "min", "max", "abs", "tuple", "list",
             "round")
_SCRIPT_HELPERS = ("_truth", "_not_any", "_make_tuple", "_make_list", "_make_dict",
                   "_getattr", "_slice", "_raise", "_format", "_concat")
# private ardor helpers that layers' compiled forwards call: pure functions of their
# arguments (tensor creation, concatenation), named exactly
_PRIVATE_HELPERS = {"ardor.nn.modules.rnn": ("_zeros", "_cat", "_stack"),
                    "ardor.nn.modules.transformer": ("_none_or_dtype", "_canonical_mask",
                                                     "_get_seq_len", "_detect_is_causal_mask",
                                                     "_dead_queries")}
# public ardor functions outside the op table that a compiled forward may call
_PUBLIC_EXTRA = ("is_grad_enabled",)


def _private_helper(name):
    """The private ardor helper saved as ``name`` (module.function), else None."""
    import importlib
    mod, _, fn = name.rpartition(".") if isinstance(name, str) else ("", "", "")
    if fn not in _PRIVATE_HELPERS.get(mod, ()):
        return None
    return getattr(importlib.import_module(mod), fn)


def _method_ok(name) -> bool:
    from ._script_ops import _VALUE_METHODS
    return _public_tensor_attr(name) or name in _VALUE_METHODS


def _public_tensor_attr(name) -> bool:
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_") \
        and hasattr(Tensor, name)


def _ardor_functions() -> dict:
    """name -> function for the op-table functions published on ``ardor`` and the functions
    of ``ardor.nn.functional`` (the callables a scripted graph may save)."""
    import ardor
    import ardor.nn.functional as F
    out = {}
    for prefix, mod in (("ardor.", ardor), ("ardor.nn.functional.", F)):
        for k in dir(mod):
            v = getattr(mod, k, None)
            m = getattr(v, "__module__", None) or ""
            if k.startswith("_") or not callable(v) or isinstance(v, type):
                continue
            if prefix == "ardor." and not m.startswith("ardor._ops"):
                continue
            out[prefix + k] = v
    for k in _PUBLIC_EXTRA:
        out["ardor." + k] = getattr(ardor, k)
    return out


def encode_callable(fn) -> str:
    """The saved name of a script graph's callable (ValueError when it has none)."""
    import builtins
    import operator
    from . import _script as S
    name = getattr(fn, "_method", None)
    if name is not None and _method_ok(name):
        return "method:" + name
    for mod, names in _PRIVATE_HELPERS.items():
        for h in names:
            if fn is _private_helper(f"{mod}.{h}"):
                return f"private:{mod}.{h}"
    for h in _SCRIPT_HELPERS:
        if fn is getattr(S, h):
            return "script:" + h
    if fn is S._CMP[S.ast.In]:
        return "script:_in"
    if fn is S._CMP[S.ast.NotIn]:
        return "script:_not_in"
    for o in _OPERATORS:
        if fn is getattr(operator, o):
            return "operator:" + o
    for b in _BUILTINS:
        if fn is getattr(builtins, b):
            return "builtin:" + b
    if getattr(fn, "__module__", None) == "math" and getattr(math, fn.__name__, None) is fn:
        return "math:" + fn.__name__
    for k, v in _ardor_functions().items():
        if v is fn:
            return "ardor:" + k
    raise ValueError(f"cannot save a scripted call of {S._fn_name(fn)}: only operators, "
                     "builtins, math functions, tensor methods and ardor functions are saved "
                     "(a submodule or a Python function called from scripted code is not, "
                     "unless it is compiled into the graph: submodules and scripted functions "
                     "are, where their code can be scripted)")


def decode_callable(s):
    """The callable a saved name denotes; SerializationError for any other name."""
    import builtins
    import operator
    from . import _script as S
    kind, _, name = s.partition(":") if isinstance(s, str) else ("", "", "")
    if kind == "method" and _method_ok(name):
        return S._method(name)
    if kind == "private" and _private_helper(name) is not None:
        return _private_helper(name)
    if kind == "script" and name in _SCRIPT_HELPERS:
        return getattr(S, name)
    if kind == "script" and name in ("_in", "_not_in"):
        return S._CMP[S.ast.In if name == "_in" else S.ast.NotIn]
    if kind == "operator" and name in _OPERATORS:
        return getattr(operator, name)
    if kind == "builtin" and name in _BUILTINS:
        return getattr(builtins, name)
    if kind == "math" and name.isidentifier() and not name.startswith("_") \
            and callable(getattr(math, name, None)):
        return getattr(math, name)
    if kind == "ardor":
        fn = _ardor_functions().get(name)
        if fn is not None:
            return fn
    raise SerializationError(f"the saved graph calls {str(s)[:80]!r}, which is not among the "
                             "callables a scripted graph may use")


def graph_to_json(g: Graph) -> dict:
    """The JSON document of a graph (tensors listed by name; their bytes stored apart)."""
    nodes = []
    for n in g.nodes:
        d = {"name": n.name, "kind": n.kind}
        if n.kind == "call":
            d["op"] = n.op.name
        if n.kind in ("fused", "if", "loop"):
            d["subgraphs"] = {k: graph_to_json(v) for k, v in n.attrs.items()
                              if isinstance(v, Graph)}
            attrs = {k: v for k, v in n.attrs.items() if not isinstance(v, Graph)}
        elif n.kind == "pycall":
            try:
                attrs = dict(n.attrs, fn=encode_callable(n.attrs["fn"]))
            except ValueError as e:
                if "src" not in n.attrs:
                    raise
                raise ValueError(f"cannot save the call of {n.attrs['src']} "
                                 f"({type(n.attrs['fn']).__name__}): it was not compiled into "
                                 f"the graph ({n.attrs.get('why')}), so it stays a Python call; "
                                 f"{e}") from None
        else:
            attrs = n.attrs
        d["args"] = _enc(list(n.args))
        d["attrs"] = _enc(attrs)
        d["meta"] = _enc_meta(n.meta)
        if n.target is not None:
            d["target"] = n.target
        if n.index is not None:
            d["index"] = n.index
        nodes.append(d)
    return {"nodes": nodes, "consts": sorted(g.consts),
            "mutations": [[t, v.name] for t, v in g.mutations],
            "tensor_names": sorted(g.tensors)}


def graph_from_json(doc, tensors: dict, outer=None) -> Graph:
    """Rebuild (and verify) a graph from its JSON document and loaded tensors; a region
    (``outer``: the enclosing graphs' names) may read the values of enclosing graphs."""
    from .._ops.registry import OPS
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        raise SerializationError("graph document has no node list")
    g = Graph()
    by_name: dict = dict(outer or {})
    own: set = set()
    for d in doc["nodes"]:
        if not isinstance(d, dict):
            raise SerializationError("malformed node entry")
        kind, name = d.get("kind"), d.get("name")
        if kind not in KINDS or not isinstance(name, str) or not name.isidentifier() \
                and name != "output":
            raise SerializationError(f"bad node kind/name {kind!r}/{name!r}")
        if name in own:
            raise SerializationError(f"duplicate node name {name!r}")
        op = None
        if kind == "call":
            op = OPS.get(d.get("op")) if isinstance(d.get("op"), str) else None
            if op is None:
                raise SerializationError(f"node {name!r} names unknown op {d.get('op')!r}; only "
                                         "op-table ops can be loaded")
        args = _dec(d.get("args", []), by_name)
        attrs = _dec(d.get("attrs", {}), by_name)
        if not isinstance(args, list) or not isinstance(attrs, dict) \
                or not all(isinstance(k, str) for k in attrs):
            raise SerializationError(f"node {name!r}: malformed args/attrs")
        for k, sub in (d.get("subgraphs") or {}).items():
            attrs[k] = graph_from_json(sub, tensors, by_name)
            if kind in ("if", "loop"):  # a region's tensors are also its graph's
                g.tensors.update(attrs[k].tensors)
        if kind == "pycall":
            attrs["fn"] = decode_callable(attrs.get("fn"))
            pos = args[0] if len(args) == 2 else ()
            if attrs["fn"].__name__ == "_getattr" and not (
                    isinstance(pos, (list, tuple)) and len(pos) == 2
                    and _public_tensor_attr(pos[1])):
                raise SerializationError(f"node {name!r}: attribute access other than a "
                                         "public tensor attribute")
        target = d.get("target")
        index = d.get("index")
        if kind == "get_attr":
            if target not in tensors:
                raise SerializationError(f"node {name!r} refers to missing tensor {target!r}")
            g.tensors[target] = tensors[target]
        n = Node(g, kind, name, op=op, args=tuple(args), attrs=attrs,
                 meta=_dec_meta(d.get("meta")), target=target, index=index)
        g.nodes.append(n)
        g._names.add(name)
        by_name[name] = n
        own.add(name)
    for t in doc.get("consts", []):
        if t in g.tensors:
            g.consts.add(t)
    for m in doc.get("mutations", []):
        if not (isinstance(m, list) and len(m) == 2 and m[1] in by_name and m[0] in g.tensors):
            raise SerializationError("malformed mutation entry")
        g.mutations.append((m[0], by_name[m[1]]))
    if outer is None:       # a region is verified with its enclosing graph (it sees the scope)
        try:
            g.verify()
        except GraphError as e:
            raise SerializationError(f"the saved graph is malformed: {e}") from None
    for n in g.nodes:  # metadata must agree with the tensors actually loaded
        if n.kind == "get_attr":
            t = g.tensors[n.target]
            if n.meta != (tuple(t.shape), t.dtype):
                raise SerializationError(f"tensor {n.target!r} does not match its metadata")
    return g


# --------------------------------------------------------------------------- save / load
def _graph_and_inputs(m):
    from ._runtime import TracedFunction, TracedModule
    from ._placeholder import Placeholder
    from ._script import ScriptFunction, ScriptModule
    if isinstance(m, ScriptModule):
        m = m._script
    if isinstance(m, ScriptFunction):
        return m.graph, None
    if isinstance(m, TracedModule):
        return m._traced.graph, m._traced._sig
    if isinstance(m, TracedFunction):
        return m.graph, m._sig
    if isinstance(m, Graph):
        return m, None
    if isinstance(m, Placeholder) and m.graph is not None:
        return m.graph, None
    raise TypeError(f"ardor.jit.save expects a traced or scripted module/function or a Graph, "
                    f"got {type(m).__name__}")


def save(m, f) -> None:
    """Save a traced or scripted module/function (or a Graph) to ``f`` (a path or binary
    file). A scripted one keeps its control flow (the submodules and scripted functions
    it calls are compiled into its graph, their weights saved under their qualified names);
    it must call only operators, builtins, math functions, tensor methods and ardor
    functions (ValueError otherwise, naming the call)."""
    from ._script import ScriptFunction, ScriptModule
    g, sig = _graph_and_inputs(m)
    g.verify()
    doc = graph_to_json(g)
    sf = m._script if isinstance(m, ScriptModule) else m
    if isinstance(sf, ScriptFunction):
        doc["script"] = {"name": sf.__name__, "specs": [list(p) for p in sf.specs],
                         "defaults": _enc(list(sf.defaults))}
    tensors, files = {}, {}
    for i, name in enumerate(sorted(g.tensors)):
        t = g.tensors[name]
        arr = np.asarray(t.detach()._data if isinstance(t, Tensor) else t)
        if not arr.flags.c_contiguous:  # (not ascontiguousarray: it makes 0-d arrays 1-d)
            arr = arr.copy(order="C")
        fn = f"tensors/{i}.bin"
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        files[fn] = data
        tensors[name] = {"file": fn, "shape": list(arr.shape), "dtype": _dt_name(t.dtype),
                         "requires_grad": bool(getattr(t, "requires_grad", False))}
    doc["tensors"] = tensors
    if sig is not None:
        doc["inputs"] = [_enc_meta(s) if isinstance(s[1], D.dtype) else None for s in sig]
    gj = json.dumps(doc, sort_keys=True).encode()
    files["graph.json"] = gj
    manifest = {"format": FORMAT, "version": VERSION,
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", json.dumps(manifest, sort_keys=True))
        for k, v in files.items():
            z.writestr(k, v)


def _read(f) -> dict:
    try:
        z = zipfile.ZipFile(f, "r")
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise SerializationError(f"not an ardor.jit archive (not a readable zip file: {e})") \
            from None
    with z:
        names = set(z.namelist())
        if "manifest.json" not in names:
            raise SerializationError("not an ardor.jit archive: manifest.json is missing")
        try:
            manifest = json.loads(z.read("manifest.json"))
        except (ValueError, zipfile.BadZipFile, OSError) as e:
            raise SerializationError(f"corrupt manifest.json ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SerializationError("not an ardor.jit archive (wrong format tag)")
        if manifest.get("version") != VERSION:
            raise SerializationError(f"unsupported ardor.jit archive version "
                                     f"{manifest.get('version')!r}")
        expected = manifest.get("files")
        if not isinstance(expected, dict) or "graph.json" not in expected:
            raise SerializationError("corrupt manifest: no file list")
        extra = names - set(expected) - {"manifest.json"}
        if extra:
            raise SerializationError(f"unexpected members in archive: {sorted(extra)[:3]}")
        data = {}
        for k, h in expected.items():
            if k not in names:
                raise SerializationError(f"archive member {k!r} is missing")
            try:
                b = z.read(k)
            except (zipfile.BadZipFile, OSError, ValueError) as e:
                raise SerializationError(f"archive member {k!r} is corrupt ({e})") from None
            if hashlib.sha256(b).hexdigest() != h:
                raise SerializationError(f"archive member {k!r} does not match its checksum "
                                         "(corrupted or tampered)")
            data[k] = b
    return data


def load(f):
    """Load a graph saved by :func:`save`; returns a callable :class:`LoadedGraph`."""
    data = _read(f)
    try:
        doc = json.loads(data["graph.json"])
    except ValueError as e:
        raise SerializationError(f"graph.json is not valid JSON ({e})") from None
    tensors = {}
    spec = doc.get("tensors") if isinstance(doc, dict) else None
    if not isinstance(spec, dict):
        raise SerializationError("graph.json has no tensor table")
    for name, t in spec.items():
        if not isinstance(t, dict) or t.get("file") not in data:
            raise SerializationError(f"tensor {name!r}: missing data file")
        dt = _dtype_by_name(t.get("dtype"))
        shape = t.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SerializationError(f"tensor {name!r}: malformed shape")
        raw = data[t["file"]]
        npdt = np.dtype(dt.np).newbyteorder("<")
        if len(raw) != int(np.prod(shape)) * npdt.itemsize:
            raise SerializationError(f"tensor {name!r}: {len(raw)} bytes do not match shape "
                                     f"{shape} and dtype {_dt_name(dt)}")
        arr = np.frombuffer(raw, npdt).astype(dt.np).reshape(shape)
        tt = _make(arr.copy())
        if t.get("requires_grad") and (dt.is_floating_point or dt.is_complex):
            tt.requires_grad_(True)
        tensors[name] = tt
    g = graph_from_json(doc, tensors)
    if "script" in doc:
        return _loaded_script(g, doc["script"])
    ins = doc.get("inputs")
    sig = tuple(_dec_meta(s) if s is not None else None for s in ins) if isinstance(ins, list) \
        else None
    return LoadedGraph(g, sig)


def _loaded_script(g: Graph, spec):
    from ._script import ScriptFunction
    ok = isinstance(spec, dict) and isinstance(spec.get("specs"), list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p)
        for p in spec["specs"]) and isinstance(spec.get("name"), str)
    defaults = _dec(spec.get("defaults", []), {}) if ok else None
    if not ok or not isinstance(defaults, list) or len(defaults) > len(spec["specs"]) \
            or len(spec["specs"]) != len(g.placeholders):
        raise SerializationError("malformed script signature")
    sf = ScriptFunction.__new__(LoadedScript)
    sf.fn = sf.self_obj = None
    sf.graph, sf.specs, sf.defaults = g, [tuple(p) for p in spec["specs"]], defaults
    sf.__name__ = spec["name"]
    sf.__doc__ = None
    return sf


def _script_function_class():
    from ._script import ScriptFunction
    return ScriptFunction


class LoadedScript(_script_function_class()):
    """A scripted function loaded by :func:`load`: called like the original (arguments
    checked against its annotations), its control flow interpreted; ``graph``, ``code``
    and ``state_dict()`` (the saved parameters and buffers by qualified name)."""

    def state_dict(self) -> dict:
        """The loaded tensors (parameters, buffers) by their qualified names."""
        return {k: v for k, v in self.graph.tensors.items() if k not in self.graph.consts}


class LoadedGraph:
    """A graph loaded by :func:`load`: call it like the traced original; ``graph``, ``code``
    and ``state_dict()`` as for traced modules."""

    def __init__(self, graph: Graph, sig):
        from ._runtime import TracedFunction
        self._tf = TracedFunction(None, graph, (), "auto")
        self._tf._sig = sig if sig is not None else tuple(
            p.meta for p in graph.placeholders)

    @property
    def graph(self) -> Graph:
        return self._tf.graph

    @property
    def code(self) -> str:
        return self._tf.code

    def state_dict(self) -> dict:
        return {k: v for k, v in self.graph.tensors.items() if k not in self.graph.consts}

    def __call__(self, *inputs):
        return self._tf(*inputs)
