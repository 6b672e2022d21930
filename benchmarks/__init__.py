"""Side-by-side benchmarks of unrolled and its peers (see BENCHMARKS.md)."""
