"""Data: sources, the frozen schema, profiling and splits."""

from poc2prod.data._profile import Finding, Profile, profile
from poc2prod.data._schema import ColumnSchema, Schema, TargetSchema, encode_target, infer_schema
from poc2prod.data._source import detect_encoding, fingerprint, load, sniff_delimiter
from poc2prod.data._split import Split, cv_folds, make_split, split_kind

__all__ = [
    "ColumnSchema",
    "Finding",
    "Profile",
    "Schema",
    "Split",
    "TargetSchema",
    "cv_folds",
    "detect_encoding",
    "encode_target",
    "fingerprint",
    "infer_schema",
    "load",
    "make_split",
    "profile",
    "sniff_delimiter",
    "split_kind",
]
