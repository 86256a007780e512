"""Benchmarks of the simulator and of sweeps (``make bench`` runs ``python -m benchmarks``).

Each module measures its subject and its yardstick in the same run and prints ratios:
the machine changes from run to run, the ratios much less.
"""
