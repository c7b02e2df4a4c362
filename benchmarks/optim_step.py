"""One optimizer step over a ResNet-like set of parameters: ardor beside torch.

    python benchmarks/optim_step.py [--rounds 15] [--optim Adam SGD ...]

The parameters have ResNet-18's layer shapes with [4, 4, 3, 3] basic blocks per stage
(98 tensors, 18.3 M float32 elements): 3x3 convolutions (64,64,3,3) ... (512,512,3,3),
1x1 downsampling convolutions, BatchNorm weights and biases, the final Linear.  Gradients are
fixed random arrays; each timed call is one ``optimizer.step()`` (state already created by
a warm-up step).  Rounds alternate between the libraries; the figure is the median per-step
time, and the ratio is ardor / torch.  Both libraries use ``--threads`` threads (default 2: torch's
``set_num_threads(2)``, and as many optimizer threads in ardor).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import numpy as np  # noqa: E402

import ardor  # noqa: E402
import ardor.optim  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(2)
except ImportError:  # torch is optional: its column is left empty
    torch = None


def resnet_shapes(blocks=(4, 4, 3, 3)) -> list[tuple[int, ...]]:
    """Parameter shapes of a ResNet with basic blocks (ResNet-18 is blocks=(2, 2, 2, 2))."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, n in zip((64, 128, 256, 512), blocks):
        for b in range(n):
            shapes += [(cout, cin if b == 0 else cout, 3, 3), (cout,), (cout,),
                       (cout, cout, 3, 3), (cout,), (cout,)]
            if b == 0 and cin != cout:
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    shapes += [(1000, 512), (1000,)]
    return shapes


def _setup(lib, name, kwargs, params_np, grads_np):
    params = [lib.tensor(p, requires_grad=True) for p in params_np]
    for p, g in zip(params, grads_np):
        p.grad = lib.tensor(g)
    opt = getattr(lib.optim, name)(params, **kwargs)
    opt.step()  # create the state outside the timing
    return opt


def bench(name: str, kwargs: dict, rounds: int, shapes) -> dict:
    rng = np.random.default_rng(0)
    params_np = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads_np = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]
    libs = {"ardor": ardor}
    if torch is not None:
        libs["torch"] = torch
    opts = {k: _setup(lib, name, kwargs, params_np, grads_np) for k, lib in libs.items()}
    times = {k: [] for k in libs}
    for _ in range(rounds):
        for k, opt in opts.items():
            t0 = time.perf_counter()
            opt.step()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


CASES = {
    "Adam": {"lr": 1e-3},
    "AdamW": {"lr": 1e-3, "weight_decay": 1e-2},
    "SGD": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    "RMSprop": {"lr": 1e-2},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--optim", nargs="*", default=["Adam"], choices=sorted(CASES))
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for both libraries (torch.set_num_threads and ardor's "
                         "optimizer threads)")
    args = ap.parse_args()
    if torch is not None:
        torch.set_num_threads(args.threads)
    ardor.optim._foreach.set_num_threads(args.threads)
    shapes = resnet_shapes()
    n = sum(int(np.prod(s)) for s in shapes)
    print(f"{len(shapes)} parameter tensors, {n / 1e6:.1f} M elements (float32); "
          f"median of {args.rounds} steps; torch threads: "
          f"{torch.get_num_threads() if torch else '-'}, ardor optimizer threads: "
          f"{ardor.optim._foreach.num_threads()}")
    print(f"{'optimizer':<10} {'ardor ms':>10} {'torch ms':>10} {'ardor/torch':>12}")
    for name in args.optim:
        r = bench(name, CASES[name], args.rounds, shapes)
        t = r.get("torch")
        ratio = f"{r['ardor'] / t:.2f}x" if t else "-"
        print(f"{name:<10} {r['ardor'] * 1e3:>10.2f} {t * 1e3 if t else float('nan'):>10.2f} "
              f"{ratio:>12}")


if __name__ == "__main__":
    main()
