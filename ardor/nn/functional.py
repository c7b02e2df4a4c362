"""ardor.nn.functional: torch.nn.functional's API.

The functions live in private modules by family; this module re-exports them all.
"""
from ._functional.activation import *  # noqa: F401,F403
from ._functional.basic import *  # noqa: F401,F403
from ._functional.conv import *  # noqa: F401,F403
from ._functional.pooling import *  # noqa: F401,F403
from ._functional.normalization import *  # noqa: F401,F403
from ._functional.loss import *  # noqa: F401,F403
from ._functional.vision import *  # noqa: F401,F403
