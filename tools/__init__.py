"""Operator and CI tools that run against a live bridge (soak)."""
