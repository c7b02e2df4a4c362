"""Process-wide switches read on every op: grad mode, the active tracer, anomaly mode."""


class _State:
    __slots__ = ("grad_enabled", "inference", "tracer", "anomaly", "anomaly_check_nan")

    def __init__(self):
        self.grad_enabled = True
        self.inference = False
        self.tracer = None          # ardor.jit hooks in here: an object with .record(...)
        self.anomaly = False
        self.anomaly_check_nan = True


state = _State()
