"""Studies that reach into the server: trade-offs, model size, the server benchmark and its naive baseline."""
