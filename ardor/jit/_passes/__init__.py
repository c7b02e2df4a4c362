"""Graph passes: each a function ``Graph -> Graph`` (a new graph; the input is untouched).

dce                dead-code elimination
cse                common-subexpression elimination
fold_constants     constant folding (constants and frozen parameters)
fold_conv_bn       eval batch_norm after a convolution folded into its weights
pool_to_max        max_pool without used indices -> maximum of strided slices
simplify           algebraic simplification (x*1, x+0, x/1, permute chains, reshape chains)
fuse               elementwise fusion into ``fused`` nodes (one kernel each)
plan_memory        buffer reuse by lifetime (returns the plan and peak-bytes report)
"""
from __future__ import annotations

from .basic import cse, dce, fold_constants, fold_conv_bn, pool_to_max, simplify
from .fusion import fuse
from .memory import MemoryPlan, plan_memory

__all__ = ["dce", "cse", "fold_constants", "fold_conv_bn", "pool_to_max", "simplify", "fuse", "plan_memory", "MemoryPlan",
           "optimize"]


def optimize(graph, fusion: bool = True):
    """The default pipeline: simplify, fold, CSE, DCE, then (optionally) fuse."""
    g = simplify(graph)
    g = pool_to_max(g)
    g = fold_constants(g)
    g = cse(g)
    g = dce(g)
    if fusion:
        g = fuse(g)
    return g
