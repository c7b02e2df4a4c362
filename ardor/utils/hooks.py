"""Removable handles for hooks kept in dicts (as torch.utils.hooks)."""
from __future__ import annotations

import itertools
import weakref

_ids = itertools.count()


class RemovableHandle:
    """A handle whose ``remove()`` deletes the hook it was returned for."""

    def __init__(self, hooks_dict: dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict) if _weakrefable(hooks_dict) else \
            (lambda d=hooks_dict: d)
        self.id = next(_ids)
        self.extra_dict_ref = extra_dict

    def remove(self) -> None:
        """Remove the hook (idempotent)."""
        d = self.hooks_dict_ref()
        if d is not None and self.id in d:
            del d[self.id]
        if self.extra_dict_ref is not None:
            for e in (self.extra_dict_ref if isinstance(self.extra_dict_ref, (list, tuple))
                      else [self.extra_dict_ref]):
                e.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _weakrefable(d) -> bool:
    try:
        weakref.ref(d)
        return True
    except TypeError:
        return False
