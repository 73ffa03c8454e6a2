"""Benchmarks of the registry on the local Docker engine; see docs/benchmarks.md."""
