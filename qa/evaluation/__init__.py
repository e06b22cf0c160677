"""Evaluation, fitting and benchmarks: question sets, metrics, reports, public datasets, speed and load.

Never imported by the runtime (qa.* outside this package)."""
