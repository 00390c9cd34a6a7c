"""Benchmarks run by ``scripts/bench``; their numbers go to docs/BENCHMARKS.md."""
