"""The op table: one declaration per primitive op, and the public names built on them.

An op is declared as a class body read once by :func:`register`::

    @register
    class mul:
        promote = "binary"          # type promotion rule applied by the dispatcher
        save = (0, 1)              # inputs the backward needs
        expr = "mul(a, b)"         # scalar expression: the op is elementwise and fusable
        def forward(xp, a, b):     # over the array module (numpy or cupy)
            return xp.multiply(a, b)
        def backward(ctx, g):      # over Tensors, so create_graph reuses it
            a, b = ctx.saved
            return g * b, g * a

Fields (all optional but forward):
  backward      formula over Tensors; ``None`` only with ``differentiable = False``.
  promote       None (no casting), "binary" (torch result_type), "float" (result_type, then
                integers/bool go to the default float dtype), "compare" (result_type for the
                computation, output bool), "bool" (output bool, no casting).
  save          indices of inputs saved for backward; ``save_out`` saves the output(s).
  save_when     optional, one tuple per ``save`` entry: the input indices whose gradient needs
                that saved input (it is saved only when one of them requires grad, as torch
                saves ``other`` for mul only when ``self`` needs a gradient); None = always.
  inplace_forward  optional forward(xp, a, *args, **attrs) writing into ``a`` (used by
                in-place variants outside autograd to avoid a temporary and a copy).
  view          the output is a view of input 0 (shares storage and version counter).
  nout          number of outputs (a tuple is returned when > 1).
  expr          scalar expression in the fusion vocabulary, for elementwise ops.
  onnx          the ONNX lowering: an operator name, a callable, or "decompose".
  node_name     autograd node class name (default: CamelCase name + "Backward0").
  sample        callable(rng) -> list of (args, attrs) for table-wide tests.
"""
from __future__ import annotations

OPS: dict[str, "OpDef"] = {}
FUNCTIONS: dict[str, object] = {}   # public ardor.* functions
METHODS: dict[str, object] = {}     # Tensor methods


class OpDef:
    """One entry of the op table."""

    __slots__ = ("name", "forward", "backward", "differentiable", "promote", "save", "save_when",
                 "save_out",
                 "view", "nout", "expr", "onnx", "node_name", "node_cls", "sample", "doc",
                 "inplace_forward", "mutates")

    def __repr__(self) -> str:
        return f"<op {self.name}>"


_FIELDS = {"backward": None, "differentiable": True, "promote": None, "save": (),
           "save_when": None, "save_out": False, "view": False, "nout": 1, "expr": None, "onnx": None,
           "node_name": None, "sample": None, "inplace_forward": None,
           # inputs the forward updates in place, given the attrs (batch norm's running
           # stats in training): a graph must run such an op once, in order, on live state
           "mutates": None}


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.strip("_").split("_"))


def register(cls) -> OpDef:
    """Read an op declaration (a class body) into the op table and return its OpDef."""
    from ..autograd.graph import make_node_class

    body = cls.__dict__
    op = OpDef()
    op.name = body.get("name", cls.__name__)
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} declared twice")
    op.forward = body["forward"]
    for field, default in _FIELDS.items():
        setattr(op, field, body.get(field, default))
    if op.differentiable and op.backward is None:
        raise TypeError(f"op {op.name}: a backward formula or differentiable = False is required")
    if op.node_name is None:
        op.node_name = _camel(op.name) + "Backward0"
    op.doc = cls.__doc__
    op.node_cls = make_node_class(op) if op.differentiable else None
    OPS[op.name] = op
    return op


def public(*names: str, method: bool | str = True, function: bool = True):
    """Publish a Python function as ``ardor.<name>`` and (optionally) ``Tensor.<name>``.

    ``method`` may be a different name (or True for the same names)."""
    def deco(fn):
        for n in names:
            if function:
                FUNCTIONS[n] = fn
            if method:
                METHODS[n if method is True else method] = fn
        return fn
    return deco


def method(*names: str):
    """Publish a function only as a Tensor method (first argument is the tensor)."""
    return public(*names, method=True, function=False)
