"""Shared helpers for the nn tests: copy a torch module's weights into an ardor module and
compare outputs and gradients."""
from __future__ import annotations

import numpy as np
import torch

import ardor


def load_from_torch(am, tm):
    """Copy tm's state_dict (all tensors) into am via numpy."""
    sd = {k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    am.load_state_dict(sd)
    return am


def norm_msg(s: str) -> str:
    return str(s).replace("torch.", "ardor.")


def run_both(am, tm, *arrays, rtol=1e-5, atol=1e-6, grad_inputs=True, out_index=None,
             **kwargs):
    """Forward both modules on the same inputs, backward a random projection, compare the
    output, input grads and every parameter grad."""
    rng = np.random.default_rng(0)
    a_in = [ardor.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in arrays]
    t_in = [torch.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in arrays]
    ao = am(*a_in, **kwargs)
    to = tm(*t_in, **{k: (torch.tensor(v.numpy()) if isinstance(v, ardor.Tensor) else v)
                      for k, v in kwargs.items()})
    if out_index is not None:
        ao, to = ao[out_index], to[out_index]
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    assert tuple(ao.shape) == tuple(to.shape)
    assert str(ao.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    w = rng.standard_normal(tuple(to.shape)).astype(to.detach().numpy().dtype)
    (ao * ardor.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for a, t in zip(a_in, t_in):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    ap = dict(am.named_parameters())
    for name, tp in tm.named_parameters():
        if tp.grad is None:
            assert ap[name].grad is None, name
        else:
            np.testing.assert_allclose(ap[name].grad.numpy(), tp.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=name)
    return ao, to
