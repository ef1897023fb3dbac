"""Monitoring: reference statistics of the training data, and (later) drift and performance over time."""

from poc2prod.monitor._reference import bin_shares, reference_stats

__all__ = ["bin_shares", "reference_stats"]
