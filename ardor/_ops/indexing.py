"""indexing ops (filled in by the op family that owns this module)."""
