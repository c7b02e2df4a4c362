"""ardor.nn: modules, layers, losses, init and functional API (torch.nn's API)."""
from . import functional, init  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules.module import (register_module_buffer_registration_hook,  # noqa: F401
                             register_module_forward_hook, register_module_forward_pre_hook,
                             register_module_full_backward_hook,
                             register_module_full_backward_pre_hook,
                             register_module_module_registration_hook,
                             register_module_parameter_registration_hook)
from .parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
from . import parameter, utils  # noqa: F401,E402
