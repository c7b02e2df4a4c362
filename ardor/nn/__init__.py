"""ardor.nn: modules, layers, losses, init and functional API (torch.nn's API)."""
from . import functional, init  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
