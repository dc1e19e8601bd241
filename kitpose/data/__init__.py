"""Datasets, top-down transforms, targets and the synthetic quadruped generator."""
