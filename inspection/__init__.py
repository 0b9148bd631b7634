"""Tier-differentiated double-random inspection: policy, registries, draw, assignment, results, evaluation."""
