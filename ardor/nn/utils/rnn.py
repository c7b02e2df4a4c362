"""nn.utils.rnn: PackedSequence and (un)packing/padding of variable-length sequences."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._tensor import Tensor, _make
from ..._ops import nn_basic_ops as _ops
from ..._ops.dispatch import dispatch

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


def bind(optional, fn):
    return None if optional is None else fn(optional)


class PackedSequence(PackedSequence_):
    """Data of variable-length sequences packed time-major: ``data`` (sum(lengths), *),
    ``batch_sizes`` (int64, per time step), optional sorted/unsorted index permutations."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.device.type != "cpu":
                raise ValueError("batch_sizes should always be on CPU. Instances of "
                                 "PackedSequence should never be created manually. They "
                                 "should be instantiated by functions like pack_sequence and "
                                 "pack_padded_sequences in nn.utils.rnn.")
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        if not (isinstance(data, (list, tuple)) and len(data) == 2):
            raise AssertionError("Expected data to be a list or tuple of length 2")
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def pin_memory(self):
        """Itself (no pinned memory on ardor)."""
        return self

    def to(self, *args, **kwargs):
        """A PackedSequence with ``data`` converted (indices stay int64 on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cuda(self, *args, **kwargs):
        """Data moved to CUDA."""
        return self.to("cuda", *args, **kwargs)

    def cpu(self, *args, **kwargs):
        """Data moved to the CPU."""
        return self.to("cpu", *args, **kwargs)

    def double(self):
        return self.to(dtype=_dt("float64"))

    def float(self):
        return self.to(dtype=_dt("float32"))

    def half(self):
        return self.to(dtype=_dt("float16"))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _dt(name):
    from ... import _dtype as D
    return getattr(D, name)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(permutation._data)
    out = np.empty_like(p)
    out[p] = np.arange(p.shape[0], dtype=p.dtype)
    return _make(out)


def _take_rows(x: Tensor, rows: np.ndarray) -> Tensor:
    """x2[rows] for x viewed as (len, -1), differentiable (embedding's gather/scatter)."""
    lead = x.shape[0]
    rest = tuple(x.shape[1:])
    flat = x.reshape(lead, -1) if rest else x.reshape(lead, 1)
    out = dispatch(_ops.embedding, (flat, _make(np.ascontiguousarray(rows, np.int64))),
                   {"padding_idx": -1, "scale_grad_by_freq": False})
    return out.reshape((len(rows),) + rest)


def _lengths_np(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return np.asarray(lengths._data).astype(np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) (or (B, T, *) with batch_first) batch of sequences."""
    ln = _lengths_np(lengths)
    if enforce_sorted:
        if ln.size > 1 and np.any(ln[:-1] < ln[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = np.arange(ln.shape[0])
        sorted_indices = None
    else:
        order = np.argsort(-ln, kind="stable")
        sorted_indices = _make(order.astype(np.int64))
    if ln.size and ln.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    x = input.transpose(0, 1) if batch_first else input
    T, B = x.shape[0], x.shape[1]
    if ln.shape[0] != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{ln.shape[0]} (batch_size={B})")
    sl = ln[order]
    if sl.size and sl[0] > T:
        raise RuntimeError(f"Start (0) + length ({sl[0]}) exceeds dimension size ({T}).")
    max_len = int(sl[0]) if sl.size else 0
    batch_sizes = np.array([(sl > t).sum() for t in range(max_len)], dtype=np.int64)
    rows = np.concatenate([t * B + order[:bs] for t, bs in enumerate(batch_sizes)]) \
        if max_len else np.zeros(0, np.int64)
    data = _take_rows(x.reshape((T * B,) + tuple(x.shape[2:])), rows)
    return PackedSequence(data, _make(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """Inverse of pack_padded_sequence: (padded, lengths)."""
    bsz = np.asarray(sequence.batch_sizes._data).astype(np.int64)
    max_seq_length = bsz.shape[0]
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and "
                             f"max sequence length being {max_seq_length}")
        max_seq_length = total_length
    B = int(bsz[0]) if bsz.size else 0
    lengths_sorted = np.array([(bsz > j).sum() for j in range(B)], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(bsz)[:-1]]).astype(np.int64)
    T = max_seq_length
    unsorted = None if sequence.unsorted_indices is None else \
        np.asarray(sequence.unsorted_indices._data).astype(np.int64)
    # output position (t, b_out) reads packed row starts[t] + b_sorted
    b_sorted = np.arange(B) if unsorted is None else unsorted
    tt = np.arange(T)[:, None]
    valid = (tt < bsz.shape[0]) & (b_sorted[None, :] < np.where(
        tt < bsz.shape[0], bsz[np.minimum(tt, max(bsz.shape[0] - 1, 0))], 0))
    rows = np.where(valid, starts[np.minimum(tt, max(bsz.shape[0] - 1, 0))] + b_sorted[None, :],
                    0).reshape(-1)
    data = sequence.data
    out = _take_rows(data, rows)
    rest = tuple(data.shape[1:])
    mask = _make(valid.reshape((T * B,) + (1,) * len(rest)).astype(data._data.dtype))
    out = out * mask
    if padding_value != 0:
        out = out + (1 - mask) * padding_value
    out = out.reshape((T, B) + rest)
    if batch_first:
        out = out.transpose(0, 1)
    lengths = lengths_sorted if unsorted is None else lengths_sorted[unsorted]
    return out, _make(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack variable-length (L_i, *) tensors into (max L, B, *) (or (B, max L, *))."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    from ... import cat
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    rest = tuple(sequences[0].shape[1:])
    B, T = len(sequences), int(lens.max())
    flat = cat(list(sequences), 0) if B > 1 else sequences[0]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    tt = np.arange(T)[:, None]
    if padding_side == "right":
        src_t = tt
    else:
        src_t = tt - (T - lens[None, :])
    valid = (src_t >= 0) & (src_t < lens[None, :])
    rows = np.where(valid, starts[None, :] + src_t, 0).reshape(-1)
    if flat.shape[0] == 0:
        from ... import full
        return full(((B, T) if batch_first else (T, B)) + rest, padding_value,
                    dtype=flat.dtype)
    out = _take_rows(flat, rows)
    mask = _make(valid.reshape((T * B,) + (1,) * len(rest)).astype(flat._data.dtype))
    out = out * mask
    if padding_value != 0:
        out = out + (1 - mask) * padding_value
    out = out.reshape((T, B) + rest)
    return out.transpose(0, 1) if batch_first else out


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False):
    """Split a padded batch back into a list of (L_i, *) tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i][:int(n)] for i, n in enumerate(_lengths_np(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length (L_i, *) tensors."""
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence):
    """The list of (L_i, *) tensors of a PackedSequence."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
