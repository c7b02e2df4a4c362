"""What torch's traced and scripted objects share beyond calling them: ``m.save(path)``,
``save_to_buffer()``, ``inlined_graph`` and ``original_name``."""
from __future__ import annotations

import io


class Saveable:
    """Mixin for traced/scripted functions and modules (each has ``graph``)."""

    def save(self, f, _extra_files=None) -> None:
        """Save to ``f`` (a path or binary file), as ``ardor.jit.save(self, f)``."""
        from ._serialize import save
        save(self, f)

    def save_to_buffer(self, _extra_files=None) -> bytes:
        """The bytes :meth:`save` would write."""
        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    @property
    def inlined_graph(self):
        """The graph with calls inlined: ardor's graphs already are."""
        return self.graph

    @property
    def original_name(self) -> str:
        """The name of the traced/scripted class (or function)."""
        orig = getattr(self, "original", None)   # a traced/scripted module's own module
        if orig is not None:
            return type(orig).__name__
        fn = getattr(self, "fn", None)
        return getattr(fn, "__name__", None) or getattr(self, "__name__", type(self).__name__)
