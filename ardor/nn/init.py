"""nn.init (filled in by the nn Module-system work)."""
