"""DataLoader internals: collation, worker processes, fetchers."""
