"""Offerflow's contract package: what services agree on, and nothing else."""
