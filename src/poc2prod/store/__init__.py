"""Storage: tracking runs (and later the registry and the prediction log)."""

from poc2prod.store._tracking import RunRecord, Tracker, load_model, tracking_uri

__all__ = ["RunRecord", "Tracker", "load_model", "tracking_uri"]
