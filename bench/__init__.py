"""Benchmarks (not tests): side-by-side measurements printed as ratios. Run with `make bench`."""
