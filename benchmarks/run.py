"""The ardor-vs-torch benchmark: training steps, inference, op overhead, throughput.

    python benchmarks/run.py                  # every workload, ardor, torch (if installed), numpy
    python benchmarks/run.py --compare mlp cnn --rounds 7
    python benchmarks/run.py --pin 0,1        # pin all processes to CPUs 0 and 1
    python benchmarks/run.py --profile cnn    # cProfile one ardor workload, top entries

Each framework runs in its own worker process (ardor, torch, and a plain-numpy one for the
reference rows), started with the same thread count (OMP/OPENBLAS/MKL_NUM_THREADS set before
anything is imported, then torch.set_num_threads / ardor.set_num_threads). Rounds alternate
which framework goes first; each cell is the median over every timed step of every round.
Weights and data come from numpy, so the first-step losses of ardor and torch must agree: the
table prints both and flags a mismatch. ``--compare`` is accepted for symmetry with the issue
(torch is compared whenever it is installed; ``--no-torch`` leaves it out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_HERE = os.path.dirname(os.path.abspath(__file__))


def _argv_threads(default: int = 2) -> int:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return default


# Thread counts are fixed before numpy (hence BLAS) or torch is imported, in this process and
# (through the environment) in the workers.
for _v in _THREAD_VARS:
    os.environ[_v] = str(_argv_threads())

sys.path.insert(0, os.path.dirname(_HERE))  # the repository root: ardor and benchmarks
sys.path.insert(0, _HERE)
if os.environ.get("ARDOR_BENCH_ROOT"):  # --ardor-root: time another checkout's ardor
    sys.path.insert(0, os.environ["ARDOR_BENCH_ROOT"])
if "--worker" in sys.argv and os.environ.get("ARDOR_BENCH_BASELINE") and \
        sys.argv[sys.argv.index("--worker") + 1] == "baseline":
    sys.path.insert(0, os.environ["ARDOR_BENCH_BASELINE"])  # --baseline's worker

ORDER = ("mlp", "cnn", "rnn", "transformer", "inference", "op_add_tiny", "op_add_tiny_grad",
         "op_fwd_bwd_chain", "gemm_1024", "add_1M", "exp_1M", "numpy_mlp_ref")
# timed samples per round: training steps are ~ms, the micro cases loop internally
STEPS = {"mlp": 20, "cnn": 5, "rnn": 5, "transformer": 8, "inference": 3}
DEFAULT_STEPS = 5


def _import_lib(name: str, threads: int):
    if name == "numpy":
        import numpy
        return numpy
    if name == "torch":
        import torch
        torch.set_num_threads(threads)
        return torch
    import ardor  # "ardor", or "baseline": ardor from --baseline DIR (sys.path set above)
    ardor.set_num_threads(threads)
    return ardor


def _to_float(v):
    if v is None:
        return None
    try:
        return float(v.detach().float().sum().item()) if hasattr(v, "detach") else float(v)
    except Exception:  # noqa: BLE001 - the loss is informational only
        return None


# ---------------------------------------------------------------------------- worker side

def worker(lib_name: str, threads: int, size: str) -> None:
    """Serve ``run NAME STEPS`` requests on stdin with one JSON line each on stdout."""
    from workloads import WORKLOADS
    lib = _import_lib(lib_name, threads)
    built: dict = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        name, steps = cmd[1], int(cmd[2])
        reply: dict = {}
        try:
            if name not in built:
                cls = WORKLOADS[name]
                if lib_name == "numpy" and not getattr(cls, "numpy", False):
                    raise NotImplementedError("no numpy version")
                if lib_name != "numpy" and cls.kind == "reference":
                    raise NotImplementedError("numpy only")
                t0 = time.perf_counter()
                w = cls(lib, size)
                first = _to_float(w.step())        # first step: the correctness check
                for _ in range(2):                 # warm-up (caches, allocator, BLAS threads)
                    w.step()
                built[name] = w
                reply["first_loss"] = first
                reply["flops"] = getattr(w, "flops", 0)
                reply["build_s"] = time.perf_counter() - t0
            w = built[name]
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                w.step()
                per_call = getattr(w, "inner", 1) * getattr(w, "per", 1)
                times.append((time.perf_counter() - t0) / per_call)
            reply["times"] = times
        except NotImplementedError as e:
            reply["skip"] = str(e)
        except Exception as e:  # noqa: BLE001 - reported in the table, not fatal
            reply["error"] = f"{type(e).__name__}: {e}"
        out.write(json.dumps(reply) + "\n")
        out.flush()


# ---------------------------------------------------------------------------- master side

class _Worker:
    def __init__(self, lib: str, threads: int, size: str):
        self.lib = lib
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads",
             str(threads), "--size", size],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())

    def run(self, name: str, steps: int) -> dict:
        self.proc.stdin.write(f"run {name} {steps}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"error": f"{self.lib} worker died"}
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        self.proc.wait(timeout=30)


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        aff = sorted(os.sched_getaffinity(0))
    except AttributeError:
        aff = []
    try:
        load = "%.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = "?"
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, affinity {aff}, load {load}; "
            f"threads {threads}; python {platform.python_version()}")


def _fmt(v, unit_scale):
    return f"{v * unit_scale:10.3f}" if v is not None else f"{'-':>10s}"


def _unit(name: str):
    if name.startswith("op_"):
        return "us/op", 1e6
    return "ms", 1e3


def compare(names, libs, rounds: int, threads: int, size: str, steps_override=None,
            settle: float = 1.0) -> dict:
    """Run ``names`` on every lib in alternating rounds; return {(name, lib): reply-merge}."""
    workers = {lib: _Worker(lib, threads, size) for lib in libs}
    res: dict = {}
    try:
        for r in range(rounds):
            order = list(libs) if r % 2 == 0 else list(reversed(libs))
            for name in names:
                steps = steps_override or STEPS.get(name, DEFAULT_STEPS)
                for lib in order:
                    rec = res.setdefault((name, lib), {"times": []})
                    if "skip" in rec or "error" in rec:
                        continue
                    # let the previous worker's BLAS/OpenMP threads stop spinning first: on
                    # a few cores their busy-wait tail would be billed to this one
                    time.sleep(settle)
                    reply = workers[lib].run(name, steps)
                    for k in ("skip", "error", "first_loss", "build_s", "flops"):
                        if k in reply:
                            rec[k] = reply[k]
                    rec["times"] += reply.get("times", [])
            print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        for w in workers.values():
            w.close()
    return res


def table(names, libs, res) -> str:
    from workloads import WORKLOADS
    lines = []
    head = f"{'workload':18s}{'unit':>7s}" + "".join(f"{lib:>10s}" for lib in libs)
    if "torch" in libs:
        head += f"{'ardor/torch':>12s}"
    if "numpy" in libs:
        head += f"{'ardor/numpy':>12s}"
    if "baseline" in libs:
        head += f"{'ardor/base':>12s}"
    head += f"{'spread':>8s}  first loss (ardor | torch)"
    lines.append(head)
    for name in names:
        unit, scale = _unit(name)
        med, spreads = {}, []
        row = f"{name:18s}{unit:>7s}"
        for lib in libs:
            rec = res.get((name, lib), {})
            ts = rec.get("times")
            if ts:
                med[lib] = statistics.median(ts)
                if len(ts) >= 4:
                    q = statistics.quantiles(ts, n=4)
                    spreads.append((q[2] - q[0]) / med[lib])
            row += _fmt(med.get(lib), scale) if "error" not in rec else f"{'ERROR':>10s}"
        for ref in ("torch", "numpy", "baseline"):
            if ref in libs:
                ok = "ardor" in med and ref in med
                row += f"{med['ardor'] / med[ref]:12.2f}" if ok else f"{'-':>12s}"
        row += f"{max(spreads) * 100:7.0f}%" if spreads else f"{'-':>8s}"
        la = res.get((name, "ardor"), {}).get("first_loss")
        lt = res.get((name, "torch"), {}).get("first_loss")
        if WORKLOADS[name].kind in ("train", "inference") and la is not None:
            row += f"  {la:.6g} | " + (f"{lt:.6g}" if lt is not None else "-")
            if lt is not None:
                row += "  ok" if abs(la - lt) <= 1e-3 * max(1.0, abs(lt)) else "  MISMATCH"
        flops = max(res.get((name, lib), {}).get("flops", 0) for lib in libs)
        if flops:
            row += "  GFLOP/s " + " ".join(f"{lib} {flops / med[lib] / 1e9:.0f}"
                                           for lib in libs if lib in med)
        lines.append(row)
    for (name, lib), rec in res.items():
        if "error" in rec:
            lines.append(f"  {name} on {lib}: {rec['error']}")
    return "\n".join(lines)


def profile(name: str, threads: int, size: str, steps: int, top: int) -> None:
    """cProfile ``steps`` steps of one workload on ardor; print the top entries."""
    import cProfile
    import pstats
    from workloads import WORKLOADS
    lib = _import_lib("ardor", threads)
    w = WORKLOADS[name](lib, size)
    for _ in range(2):
        w.step()
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    for _ in range(steps):
        w.step()
    pr.disable()
    print(f"{name}: {(time.perf_counter() - t0) / steps * 1e3:.1f} ms/step under cProfile")
    st = pstats.Stats(pr)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workloads", nargs="*", help=f"subset of {', '.join(ORDER)}")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=None, help="timed steps per round")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", default="full", choices=("full", "tiny"))
    p.add_argument("--compare", action="store_true", help="compare with torch (the default)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--libs", default=None, help="comma list of frameworks (ardor,torch,numpy)")
    p.add_argument("--baseline", default=None, metavar="DIR",
                   help="also time the ardor found in DIR (e.g. an older checkout) as 'baseline'")
    p.add_argument("--no-numpy", action="store_true")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds of quiet before each timed run (idle thread pools stop "
                        "spinning; after the other framework's run, 1 s still left the rnn "
                        "step 30%% slower on this VM)")
    p.add_argument("--pin", default=None, help="CPU list to pin every process to, e.g. 0,1")
    p.add_argument("--profile", default=None, metavar="WORKLOAD")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the raw results here")
    p.add_argument("--ardor-root", default=None,
                   help="import ardor from this directory (e.g. an older checkout)")
    args = p.parse_args()
    if args.ardor_root:
        os.environ["ARDOR_BENCH_ROOT"] = os.path.abspath(args.ardor_root)
        sys.path.insert(0, os.environ["ARDOR_BENCH_ROOT"])  # for --profile (in-process)
    if args.pin:
        os.sched_setaffinity(0, {int(c) for c in args.pin.split(",")})
    if args.worker:
        worker(args.worker, args.threads, args.size)
        return
    if args.profile:
        profile(args.profile, args.threads, args.size, args.steps or 10, args.top)
        return
    names = args.workloads or list(ORDER)
    bad = [n for n in names if n not in ORDER]
    if bad:
        p.error(f"unknown workload(s) {bad}; choose from {list(ORDER)}")
    libs = ["ardor"]
    if args.libs:
        libs = args.libs.split(",")
    elif not args.no_torch:
        try:
            import importlib.util
            if importlib.util.find_spec("torch") is not None:
                libs.append("torch")
        except ImportError:
            pass
    if not args.no_numpy and not args.libs:
        libs.append("numpy")
    if args.baseline:
        os.environ["ARDOR_BENCH_BASELINE"] = os.path.abspath(args.baseline)
        libs.insert(1, "baseline")
    versions = []
    for lib in libs:
        root = os.environ.get("ARDOR_BENCH_ROOT") or os.path.dirname(_HERE)
        mod = "ardor" if lib == "baseline" else lib
        if lib == "baseline":
            root = os.environ["ARDOR_BENCH_BASELINE"]
        code = (f"import sys; sys.path.insert(0, {root!r}); import {mod}; "
                f"print({mod}.__version__" + (", 'from', ardor.__path__[0])" if mod == "ardor"
                                              else ")"))
        v = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=root).stdout.strip()
        versions.append(f"{lib} {v}")
    print(_machine(args.threads))
    print(", ".join(versions) + f"; {args.rounds} rounds, size {args.size}")
    res = compare(names, libs, args.rounds, args.threads, args.size, args.steps, args.settle)
    print(table(names, libs, res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{n}|{lib}": rec for (n, lib), rec in res.items()}, f, indent=1)


if __name__ == "__main__":
    main()
