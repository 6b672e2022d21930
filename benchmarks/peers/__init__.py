"""One module per benchmarked system; each runs in its own process (see benchmarks.run)."""
