"""ardor.optim: optimizers and learning-rate schedulers (filled in by the optim work)."""
