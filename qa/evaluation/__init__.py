"""Evaluation, fitting and benchmarks: question sets, metrics, reports, public datasets, speed and load.

Registers its own subcommands of `python -m qa` (cli.py). Never imported by the runtime (qa.* outside this
package): qa.cli loads qa.evaluation.cli by name, only when one of its subcommands runs or the whole help is shown.
"""
