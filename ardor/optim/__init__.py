"""ardor.optim: optimizers and learning-rate schedulers, with torch.optim's API.

``import ardor as torch`` and ``torch.optim.Adam(model.parameters(), lr=1e-3)`` gives the same
updates, state_dict structure and errors as torch 2.13.
"""
from . import lr_scheduler  # noqa: F401
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "ASGD", "LBFGS", "lr_scheduler",
           "NAdam", "Optimizer", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam", "swa_utils"]


def __getattr__(name):
    # swa_utils needs ardor.nn (AveragedModel is a Module): loaded on first use
    if name == "swa_utils":
        import importlib
        return importlib.import_module(".swa_utils", __name__)
    raise AttributeError(f"module 'ardor.optim' has no attribute '{name}'")
