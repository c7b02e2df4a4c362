"""The training and inference workloads of issue 8, over the PyTorch API of ``lib``.

Each class takes the framework module (torch or ardor) and a size ("full" or "tiny") and
builds its model, optimizer and one fixed synthetic batch with numpy, so the two frameworks
see identical weights and data.
"""
from __future__ import annotations

import numpy as np

from ._common import init_params


class _Workload:
    """Shared plumbing: one fixed batch, ``loss()`` and a training ``step()``."""

    kind = "train"
    SIZES: dict = {}

    def __init__(self, lib, size: str = "full", seed: int = 0):
        self.lib = lib
        self.cfg = dict(self.SIZES[size])
        self.rng = np.random.default_rng(seed)
        self.model = self.build(lib, **self.cfg)
        init_params(lib, self.model, seed)
        self.opt = self.optimizer(lib, self.model)
        self.inputs = self.data(lib, self.rng, **self.cfg)

    def loss(self):
        """Forward pass and loss on the fixed batch."""
        x, y = self.inputs
        out = self.model(x)
        return self.lib.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                                    y.reshape(-1))

    def step(self):
        """One training step: zero_grad, forward, loss, backward, optimizer step."""
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return loss


def _tensor(lib, arr):
    return lib.from_numpy(np.ascontiguousarray(arr))


class MLP(_Workload):
    """784-512-512-10 MLP, batch 128, SGD with momentum."""

    SIZES = {"full": dict(d_in=784, hidden=512, classes=10, batch=128),
             "tiny": dict(d_in=12, hidden=16, classes=5, batch=6)}

    @staticmethod
    def build(lib, d_in, hidden, classes, batch):
        nn = lib.nn
        return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                             nn.ReLU(), nn.Linear(hidden, classes))

    @staticmethod
    def optimizer(lib, model):
        return lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    @staticmethod
    def data(lib, rng, d_in, hidden, classes, batch):
        x = rng.standard_normal((batch, d_in)).astype(np.float32)
        y = rng.integers(0, classes, batch)
        return _tensor(lib, x), _tensor(lib, y)


class CNN(_Workload):
    """conv(1->32,3x3)-relu-conv(32->64,3x3)-relu-maxpool(2)-linear(9216->128)-relu-linear(10),
    batch 64 of 1x28x28, Adam."""

    SIZES = {"full": dict(c1=32, c2=64, side=28, hidden=128, batch=64),
             "tiny": dict(c1=3, c2=4, side=10, hidden=8, batch=3)}

    @staticmethod
    def build(lib, c1, c2, side, hidden, batch):
        nn = lib.nn
        flat = c2 * ((side - 4) // 2) ** 2
        return nn.Sequential(nn.Conv2d(1, c1, 3), nn.ReLU(), nn.Conv2d(c1, c2, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(),
                             nn.Linear(hidden, 10))

    @staticmethod
    def optimizer(lib, model):
        return lib.optim.Adam(model.parameters(), lr=1e-3)

    @staticmethod
    def data(lib, rng, c1, c2, side, hidden, batch):
        x = rng.standard_normal((batch, 1, side, side)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        return _tensor(lib, x), _tensor(lib, y)


class CNNInference(CNN):
    """The CNN's forward pass under no_grad at batch 256."""

    kind = "inference"
    SIZES = {"full": dict(CNN.SIZES["full"], batch=256), "tiny": dict(CNN.SIZES["tiny"], batch=5)}

    @staticmethod
    def optimizer(lib, model):
        return None

    def step(self):
        """One inference batch (forward under no_grad); returns the logits."""
        with self.lib.no_grad():
            return self.model(self.inputs[0])


def _char_lstm(lib, vocab, emb, hidden):
    nn = lib.nn

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, emb)
            self.lstm = nn.LSTM(emb, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, idx):
            h, _ = self.lstm(self.embed(idx))
            return self.head(h)
    return CharLM()


class CharLSTM(_Workload):
    """Character LSTM language model: vocab 65, embedding 64, hidden 256, sequence 64,
    batch 32, Adam."""

    SIZES = {"full": dict(vocab=65, emb=64, hidden=256, seq=64, batch=32),
             "tiny": dict(vocab=11, emb=6, hidden=8, seq=5, batch=3)}

    @staticmethod
    def build(lib, vocab, emb, hidden, seq, batch):
        return _char_lstm(lib, vocab, emb, hidden)

    @staticmethod
    def optimizer(lib, model):
        return lib.optim.Adam(model.parameters(), lr=2e-3)

    @staticmethod
    def data(lib, rng, vocab, emb, hidden, seq, batch):
        text = rng.integers(0, vocab, (batch, seq + 1))
        return _tensor(lib, text[:, :-1]), _tensor(lib, text[:, 1:])


def _gpt(lib, vocab, d_model, heads, layers, seq):
    nn = lib.nn
    F = nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            mask = lib.triu(lib.ones(seq, seq, dtype=lib.bool), diagonal=1)
            self.register_buffer("mask", mask)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(C, dim=2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (C // heads) ** 0.5)
            att = att.masked_fill(self.mask[:T, :T], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.attn = CausalSelfAttention()
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                     nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Embedding(seq, d_model)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab)
            self.register_buffer("positions", lib.arange(seq))

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos(self.positions[:T])
            return self.head(self.ln_f(self.blocks(x)))
    return GPT()


class GPT(_Workload):
    """GPT-style transformer: 2 blocks, d_model 128, 4 heads, sequence 64, batch 16, vocab 65,
    causal attention from matmul + softmax, LayerNorm, GELU, AdamW."""

    SIZES = {"full": dict(vocab=65, d_model=128, heads=4, layers=2, seq=64, batch=16),
             "tiny": dict(vocab=11, d_model=8, heads=2, layers=2, seq=6, batch=3)}

    @staticmethod
    def build(lib, vocab, d_model, heads, layers, seq, batch):
        return _gpt(lib, vocab, d_model, heads, layers, seq)

    @staticmethod
    def optimizer(lib, model):
        return lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)

    @staticmethod
    def data(lib, rng, vocab, d_model, heads, layers, seq, batch):
        text = rng.integers(0, vocab, (batch, seq + 1))
        return _tensor(lib, text[:, :-1]), _tensor(lib, text[:, 1:])
