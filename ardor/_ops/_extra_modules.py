"""Imports the op modules beyond the core set, so each registers its ops and public names.

Each module listed here owns one family of ops; adding a module means adding a line.
"""
import importlib

_MODULES = (
    "indexing",      # getitem/setitem, gather/scatter, index_*, masked_*, sort/topk/unique, cat...
    "random_ops",    # rand/randn/randint/..., uniform_/normal_/bernoulli_ ...
    "nn_ops",        # primitives behind ardor.nn.functional (conv, pooling, norms, losses...)
    "nn_basic_ops",  # activations, softmax/log_softmax, embedding(_bag), one_hot, dropout mask
    "nn_methods",    # Tensor.softmax/log_softmax/hardshrink/prelu/H/mH/sum_to_size ...
)

for _m in _MODULES:
    importlib.import_module("ardor._ops." + _m)
