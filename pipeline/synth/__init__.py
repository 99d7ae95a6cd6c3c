"""Synthetic and sample data: the seeded generator for tests and benchmarks, and the bundled
sample (HH-RLHF pairs plus generated days) that `make run` builds."""
