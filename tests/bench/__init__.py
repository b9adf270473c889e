"""Benchmarks: print figures and write them to ``.local/bench/``; assert nothing (``make bench``).

Each section is a module; ``python -m tests.bench`` runs them all.
"""
