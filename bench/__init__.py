"""Benchmark corpus generator and harness (issue 5); see bench/README.md."""
