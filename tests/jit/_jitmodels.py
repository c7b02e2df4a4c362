"""Small models built identically in ardor and torch (weights copied torch -> ardor)."""
from __future__ import annotations

import sys

import numpy as np
import torch

import ardor


def _copy(am, tm):
    sd = {k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    am.load_state_dict(sd)
    return am


def ce_step(m, opt):
    """The classic training step of ``m`` with ``opt``: ``step(x, y)`` zeroes the grads,
    backpropagates the cross-entropy of ``m(x)`` against ``y``, steps; returns the loss."""
    def step(x, y):
        opt.zero_grad()
        loss = ardor.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def mlp(nn, depth=2, width=16, din=8, dout=4):
    layers = [nn.Linear(din, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.Tanh()]
    layers += [nn.Linear(width, dout)]
    return nn.Sequential(*layers)


def cnn(nn):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(16 * 2 * 2, 10))


def block_cls(nn, F):
    class Block(nn.Module):
        """A pre-norm transformer block: attention + GELU MLP, residuals."""

        def __init__(self, d=16, h=2):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)
            self.h = h

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
            q = q.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            k = k.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            v = v.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (d // self.h) ** 0.5)
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
    return Block


def pair_model(kind, seed=0, **kw):
    """(ardor model, torch model) with the same weights, in eval mode."""
    torch.manual_seed(seed)
    if kind == "mlp":
        tm, am = mlp(torch.nn, **kw), mlp(ardor.nn, **kw)
    elif kind == "cnn":
        tm, am = cnn(torch.nn), cnn(ardor.nn)
        with torch.no_grad():  # non-trivial running stats
            tm[1].running_mean.uniform_(-0.5, 0.5)
            tm[1].running_var.uniform_(0.5, 2.0)
    elif kind == "block":
        tm = block_cls(torch.nn, torch.nn.functional)()
        am = block_cls(ardor.nn, ardor.nn.functional)()
    else:
        raise ValueError(kind)
    _copy(am, tm)
    return am.eval(), tm.eval()


def example(kind, rng, batch=4):
    shape = {"mlp": (batch, 8), "cnn": (batch, 3, 8, 8), "block": (batch, 5, 16)}[kind]
    return rng.standard_normal(shape).astype(np.float32)


def import_defs(directory, source: str, prefix: str) -> tuple:
    """(ardor module, torch module): ``source`` formatted with ``lib`` = "ardor" / "torch",
    written under ``directory`` and imported, then removed from sys.path and sys.modules
    again (so a saved graph that needed the defining module would fail to load)."""
    mods = []
    for lib in ("ardor", "torch"):
        name = f"{prefix}_{lib}_xyz"
        (directory / f"{name}.py").write_text(source.format(lib=lib))
        sys.path.insert(0, str(directory))
        try:
            mods.append(__import__(name))
        finally:
            sys.path.remove(str(directory))
            sys.modules.pop(name, None)
    return mods[0], mods[1]


def nodes_of(graph, kind: str) -> list:
    """The nodes of ``kind`` in ``graph`` and in every region below it (if/loop bodies),
    in program order."""
    out = []
    for n in graph.nodes:
        if n.kind == kind:
            out.append(n)
        for v in n.attrs.values():
            if isinstance(v, ardor.jit.Graph):
                out += nodes_of(v, kind)
    return out
