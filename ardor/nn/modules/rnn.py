"""nn layers: RNN, LSTM, GRU and their cells.

Each layer and direction costs one GEMM for the input projection of the whole sequence
(F.linear over all time steps) and one fused ``rnn_layer`` op that runs the recurrence (one
GEMM per step, gates in one GEMM) with a hand-written backward through time.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import _dtype as D
from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._tensor import Tensor, _make
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_OPMODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _empty(shape, device=None, dtype=None) -> Tensor:
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    t = _make(np.empty(tuple(shape), dt.np))
    if device is not None and str(device) != "cpu":
        t = t.to(device)
    return t


def _zeros(shape, dtype) -> Tensor:
    return _make(np.zeros(tuple(shape), dtype.np))


class RNNBase(Module):
    """Common base of RNN, LSTM and GRU: parameters named as torch's, forward over a
    padded (T, B, F) / (B, T, F) / unbatched (T, F) input or a PackedSequence."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias",
                     "batch_first", "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or \
                isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names: list = []
        self._all_weights: list = []
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden * num_directions
                params = [_empty((gate_size, layer_input_size), device, dtype),
                          _empty((gate_size, real_hidden), device, dtype)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [_empty((gate_size,), device, dtype),
                               _empty((gate_size,), device, dtype)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(_empty((proj_size, hidden_size), device, dtype))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for n, p in zip(names, params):
                    setattr(self, n, Parameter(p))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """Parameters grouped per layer and direction."""
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def flatten_parameters(self) -> None:
        """No-op (kept for API compatibility: ardor's weights are always usable as is)."""

    def reset_parameters(self) -> None:
        """All weights and biases ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---------------------------------------------------------------- checks
    def _check_input(self, input: Tensor, batch_sizes) -> None:
        expected = 2 if batch_sizes is not None else 3
        if input.ndim != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.ndim}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _expected_hidden(self, input: Tensor, batch_sizes, size=None) -> tuple:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        nd = 2 if self.bidirectional else 1
        h = size if size is not None else (self.proj_size if self.proj_size > 0
                                           else self.hidden_size)
        return (self.num_layers * nd, mini_batch, h)

    @staticmethod
    def _check_hidden(hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, got {}"):
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    # ---------------------------------------------------------------- the recurrence
    def _run(self, x: Tensor, batch_sizes, hx: Tensor, cx: Tensor | None):
        mode = _OPMODE[self.mode]
        nd = 2 if self.bidirectional else 1
        h0s = hx.unbind(0)
        c0s = cx.unbind(0) if cx is not None else None
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                idx = layer * nd + d
                names = self._all_weights[idx]
                w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
                b_ih = getattr(self, names[2]) if self.bias else None
                b_hh = getattr(self, names[3]) if self.bias else None
                w_hr = getattr(self, names[-1]) if self.proj_size > 0 else None
                xg = F.linear(layer_in, w_ih, b_ih)      # all time steps in one GEMM
                out, hn, cn, _ = dispatch(
                    _K.rnn_layer,
                    (xg, w_hh, b_hh, h0s[idx], c0s[idx] if c0s is not None else None, w_hr),
                    {"mode": mode, "reverse": d == 1, "batch_sizes": batch_sizes})
                outs.append(out)
                hs.append(hn)
                cs.append(cn)
            layer_in = outs[0] if nd == 1 else _cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = _stack(hs)
        c_n = _stack(cs) if cx is not None else None
        return layer_in, h_n, c_n

    def forward(self, input, hx=None):
        """Run the layer; returns (output, h_n) or for LSTM (output, (h_n, c_n))."""
        from ..utils.rnn import PackedSequence
        is_lstm = self.mode == "LSTM"
        name = {"LSTM": "LSTM", "GRU": "GRU"}.get(self.mode, "RNN")
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        if packed:
            x, bs_t, sorted_indices, unsorted_indices = input
            batch_sizes = tuple(int(v) for v in bs_t.tolist())
            max_batch = batch_sizes[0]
            batched = True
        else:
            batch_sizes = None
            sorted_indices = unsorted_indices = None
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                                 f"tensor instead")
            batched = input.ndim == 3
            x = input
            if not batched:
                x = x.unsqueeze(1)
                if hx is not None:
                    if is_lstm:
                        if hx[0].ndim != 2 or hx[1].ndim != 2:
                            raise RuntimeError(
                                f"For unbatched 2-D input, hx and cx should also be 2-D but "
                                f"got ({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
                        hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                    else:
                        if hx.ndim != 2:
                            raise RuntimeError(f"For unbatched 2-D input, hx should also be "
                                               f"2-D but got {hx.ndim}-D tensor")
                        hx = hx.unsqueeze(1)
            else:
                if hx is not None:
                    if is_lstm:
                        if hx[0].ndim != 3 or hx[1].ndim != 3:
                            raise RuntimeError(
                                f"For batched 3-D input, hx and cx should also be 3-D but got "
                                f"({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
                    elif hx.ndim != 3:
                        raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but "
                                           f"got {hx.ndim}-D tensor")
            if self.batch_first:
                x = x.transpose(0, 1)
            max_batch = x.shape[1]
        nd = 2 if self.bidirectional else 1
        if hx is None:
            h0 = _zeros((self.num_layers * nd, max_batch, real_hidden), x.dtype)
            c0 = _zeros((self.num_layers * nd, max_batch, self.hidden_size), x.dtype) \
                if is_lstm else None
        elif is_lstm:
            h0, c0 = hx
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices)
        else:
            h0, c0 = hx, None
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
        self._check_input(x, batch_sizes)
        exp_h = (self.num_layers * nd, max_batch, real_hidden)
        if is_lstm:
            self._check_hidden(h0, exp_h, "Expected hidden[0] size {}, got {}")
            self._check_hidden(c0, (self.num_layers * nd, max_batch, self.hidden_size),
                               "Expected hidden[1] size {}, got {}")
        else:
            self._check_hidden(h0, exp_h)
        out, h_n, c_n = self._run(x, batch_sizes, h0, c0)
        if packed:
            output = PackedSequence(out, input.batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                h_n = h_n.index_select(1, unsorted_indices)
                if c_n is not None:
                    c_n = c_n.index_select(1, unsorted_indices)
        else:
            output = out.transpose(0, 1) if self.batch_first else out
            if not batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                if c_n is not None:
                    c_n = c_n.squeeze(1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


def _cat(ts, dim):
    from ... import cat
    return cat(ts, dim)


def _stack(ts):
    from ... import stack
    return stack(ts, 0)


class RNN(RNNBase):
    """Elman RNN with tanh or relu nonlinearity."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory (optionally with projections, proj_size > 0)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """Common base of the single-step cells."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(_empty((num_chunks * hidden_size, input_size), device,
                                          dtype))
        self.weight_hh = Parameter(_empty((num_chunks * hidden_size, hidden_size), device,
                                          dtype))
        if bias:
            self.bias_ih = Parameter(_empty((num_chunks * hidden_size,), device, dtype))
            self.bias_hh = Parameter(_empty((num_chunks * hidden_size,), device, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """All weights and biases ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, name: str, input: Tensor, hx: Tensor | None, what: str = "hidden"):
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"instead")
        if hx is not None and hx.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {hx.ndim}D instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        return input, batched

    def _check_h(self, input: Tensor, hx: Tensor, label: str) -> None:
        if input.shape[0] != hx.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match {label} "
                               f"batch size {hx.shape[0]}")
        if hx.shape[1] != self.hidden_size:
            raise RuntimeError(f"{label} has inconsistent hidden_size: got {hx.shape[1]}, "
                               f"expected {self.hidden_size}")

    def _step(self, mode: str, input: Tensor, hx: Tensor, cx: Tensor | None):
        xg = F.linear(input, self.weight_ih, self.bias_ih).unsqueeze(0)
        _out, h, c, _ = dispatch(_K.rnn_layer, (xg, self.weight_hh, self.bias_hh, hx, cx, None),
                                 {"mode": mode, "reverse": False, "batch_sizes": None})
        return h, c


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state."""
        x, batched = self._prepare("RNNCell", input, hx)
        if hx is None:
            hx = _zeros((x.shape[0], self.hidden_size), x.dtype)
        elif not batched:
            hx = hx.unsqueeze(0)
        self._check_h(x, hx, "hidden0")
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h, _ = self._step("rnn_" + self.nonlinearity, x, hx, None)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        """The next (hidden, cell) states."""
        if input.ndim not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"instead")
        if hx is not None:
            for i, t in enumerate(hx):
                if t.ndim not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{i}] to be 1D or 2D, got "
                                     f"{t.ndim}D instead")
        x, batched = self._prepare("LSTMCell", input, None)
        if hx is None:
            z = _zeros((x.shape[0], self.hidden_size), x.dtype)
            h0, c0 = z, z
        else:
            h0, c0 = hx
            if not batched:
                h0, c0 = h0.unsqueeze(0), c0.unsqueeze(0)
        self._check_h(x, h0, "hidden0")
        self._check_h(x, c0, "hidden1")
        h, c = self._step("lstm", x, h0, c0)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state."""
        x, batched = self._prepare("GRUCell", input, hx)
        if hx is None:
            hx = _zeros((x.shape[0], self.hidden_size), x.dtype)
        elif not batched:
            hx = hx.unsqueeze(0)
        self._check_h(x, hx, "hidden0")
        h, _ = self._step("gru", x, hx, None)
        return h if batched else h.squeeze(0)
