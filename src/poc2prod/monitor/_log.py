"""The prediction log as a table: one row per scored row, read a column at a time.

A segment is parsed by Arrow's JSON reader (multithreaded C++) and flattened with Arrow compute,
never row by row in Python. A segment that has stopped growing is kept as Parquet in
``<folder>/.columns/`` under its name, size and modification time, so a monitor run parses only
what the service wrote since the last one. A segment Arrow cannot read whole (a torn line left by a
full disk) is read line by line instead, skipping what is torn, like
:func:`poc2prod.store._predlog.read_log`.
"""

from __future__ import annotations

import glob
import io
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

_CACHE = ".columns"
_SETTLED = 5.0  # seconds without a write after which a segment is taken to be closed


def read_predictions(folder: str | Path) -> pd.DataFrame:
    """Every scored row in ``folder``: request_id, row, time, version, the answer's fields (score,
    decision, positive; or label; or prediction), flags (how many), then one column per feature."""
    parts = [_segment(Path(p)) for p in sorted(glob.glob(str(Path(folder) / "predictions-*.jsonl")))]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["request_id", "row", "time", "version", "flags"])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def read_feedback(folder: str | Path) -> pd.DataFrame:
    """Every late label in ``folder``: request_id, row, label, time (the latest label of a row wins)."""
    from poc2prod.store._predlog import read_log

    frame = pd.DataFrame(read_log(Path(folder), "feedback"), columns=["request_id", "row", "label", "time"])
    return (
        frame.sort_values("time").drop_duplicates(["request_id", "row"], keep="last").reset_index(drop=True)
    )


def _segment(path: Path) -> pd.DataFrame:
    stat = path.stat()
    cached = path.parent / _CACHE / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}.parquet"
    if cached.exists():
        return pd.read_parquet(cached)
    frame = _parse(path)
    if time.time() - stat.st_mtime > _SETTLED and len(frame):
        cached.parent.mkdir(exist_ok=True)
        for old in cached.parent.glob(f"{path.stem}-*.parquet"):  # an earlier, shorter reading
            old.unlink(missing_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, cached)
    return frame


def _parse(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj

    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # a line still being written is not read yet
    if not data.strip():
        return pd.DataFrame()
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=1 << 24))
        return _flatten(table)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, ValueError):
        return _rows_frame(path)


def _flatten(table) -> pd.DataFrame:
    import pyarrow.compute as pc

    # A segment is one process's, and a process serves one version, so its rows share their
    # features; a segment that mixes versions is left to the slow reading.
    versions = pc.min_max(table["version"]).as_py()
    if versions["min"] != versions["max"]:
        raise ValueError("requests of several versions in one segment")
    first = table["numeric"][0].as_py()
    counts = pc.list_value_length(table["answers"]).to_numpy(zero_copy_only=False)
    n = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    out: dict[str, object] = {
        "request_id": np.repeat(table["request_id"].to_numpy(zero_copy_only=False), counts),
        "row": _row_numbers(table, counts, starts, n),
        "time": np.repeat(table["time"].to_numpy(zero_copy_only=False), counts),
        "version": np.repeat(table["version"].to_numpy(zero_copy_only=False), counts),
    }
    answers = pc.list_flatten(table["answers"]).combine_chunks()
    for i in range(answers.type.num_fields):
        name, values = answers.type.field(i).name, answers.field(i)
        if name == "probabilities":  # multiclass: one column per class
            for j in range(values.type.num_fields):
                out[f"p_{values.type.field(j).name}"] = values.field(j).to_numpy(zero_copy_only=False)
        else:
            out[name] = values.to_numpy(zero_copy_only=False)
    out["flags"] = pc.list_value_length(pc.list_flatten(table["flags"])).to_numpy(zero_copy_only=False)
    numbers = pc.list_flatten(pc.list_flatten(table["numbers"])).to_numpy(zero_copy_only=False)
    numbers = numbers.astype(np.float64).reshape(n, len(first))
    for j, name in enumerate(first):
        out[name] = numbers[:, j]
    if "shadow" in table.column_names:  # a challenger scored beside the champion (serve --shadow)
        shadow = table["shadow"].combine_chunks()
        scores = pc.list_flatten(shadow.field("scores")).to_numpy(zero_copy_only=False)
        if shadow.null_count == 0 and len(scores) == n:
            out["shadow_version"] = np.repeat(shadow.field("version").to_numpy(zero_copy_only=False), counts)
            out["shadow_score"] = scores.astype(np.float64)
    texts = table["texts"].combine_chunks()
    for i in range(texts.type.num_fields):
        out[texts.type.field(i).name] = pc.list_flatten(texts.field(i)).to_numpy(zero_copy_only=False)
    return pd.DataFrame(out)


def _row_numbers(table, counts: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Each row's number: its place in its request, or the number a scored file gave it."""
    if "rows" in table.column_names:
        import pyarrow.compute as pc

        given = pc.list_flatten(table["rows"]).to_numpy(zero_copy_only=False)
        if len(given) == n:
            return given.astype(np.int64)
    return np.arange(n, dtype=np.int64) - starts


def _rows_frame(path: Path) -> pd.DataFrame:
    """The slow, forgiving reading: one record at a time, torn lines skipped."""
    import orjson

    from poc2prod.store._predlog import _rows_of

    rows, numeric = [], set()
    with open(path, "rb") as f:
        for line in f:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            numeric.update(record.get("numeric", []))
            for r in _rows_of(record):
                inputs = r.pop("inputs", {})
                for cls, p in (r.pop("probabilities", None) or {}).items():
                    r[f"p_{cls}"] = p
                r["flags"] = len(r.get("flags") or [])
                rows.append({**r, **inputs})
    frame = pd.DataFrame(rows)
    for name in numeric & set(frame.columns):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return frame
