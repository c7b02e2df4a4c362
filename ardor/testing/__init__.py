"""ardor.testing: assert_close (filled in by the utilities work)."""
