"""Imports the op modules beyond the core set, so each registers its ops and public names.

Each module listed here owns one family of ops; adding a module means adding a line.
"""
import importlib

_MODULES = ()

for _m in _MODULES:
    importlib.import_module("ardor._ops." + _m)
