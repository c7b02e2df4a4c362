"""default_collate / default_convert: turn lists of samples into batches (torch's rules)."""
from __future__ import annotations

import collections.abc
import re

import numpy as np

__all__ = ["default_collate", "default_convert"]

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

_TYPE_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
             "lists; found {}")


def _stack(batch):
    """Stack same-shaped tensors along a new first dim, naming shapes when they differ."""
    import ardor
    arrays = [t._data for t in batch]
    shape, dtype = arrays[0].shape, arrays[0].dtype
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(a.shape)} at entry {i}")
        if a.dtype != dtype:  # mixed dtypes: ardor.stack promotes as torch.stack does
            return ardor.stack(list(batch), 0)
    return ardor.from_numpy(np.stack(arrays, 0))


def default_collate(batch):
    """Stack tensors/arrays/numbers; recurse into dicts, namedtuples, lists and tuples."""
    import ardor
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, ardor.Tensor):
        return _stack(batch)
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_"):
        if elem_type.__name__ in ("ndarray", "memmap"):
            if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
                raise TypeError(_TYPE_ERR.format(elem.dtype))
            return default_collate([ardor.as_tensor(b) for b in batch])
        if elem.shape == ():  # numpy scalars
            return ardor.as_tensor(np.array(batch))
    if isinstance(elem, bool):
        return ardor.tensor(batch)
    if isinstance(elem, float):
        return ardor.tensor(batch, dtype=ardor.float64)
    if isinstance(elem, int):
        return ardor.tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = elem_type.__new__(elem_type) if elem_type is not dict else {}
                if elem_type is not dict:
                    clone = elem_type(elem) if hasattr(elem, "copy") else clone
                for key in elem:
                    clone[key] = default_collate([d[key] for d in batch])
                return clone
            return elem_type({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = list(elem) if elem_type is list else elem_type(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = default_collate(samples)
                return clone
            return elem_type([default_collate(samples) for samples in transposed])
        except TypeError:
            return [default_collate(samples) for samples in transposed]
    raise TypeError(_TYPE_ERR.format(elem_type))


def default_convert(data):
    """Convert numpy arrays (and those inside containers) to tensors; no batching."""
    import ardor
    elem_type = type(data)
    if isinstance(data, ardor.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_"):
        if elem_type.__name__ == "ndarray" and \
                _np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return ardor.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
