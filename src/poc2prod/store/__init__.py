"""Storage: tracking runs (and later the registry and the prediction log)."""

from poc2prod.store._tracking import RunRecord, Tracker, tracking_uri

__all__ = ["RunRecord", "Tracker", "tracking_uri"]
