"""Internals of ``benchmarks/reproduce.py``: the plan, fault models, training, table cells and markdown."""
