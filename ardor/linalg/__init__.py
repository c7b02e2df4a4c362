"""ardor.linalg: torch.linalg's functions (norms, inv, det, solve, decompositions)."""
