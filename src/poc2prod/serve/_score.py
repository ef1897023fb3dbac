"""Batch scoring: a file in, a file of answers out, with the service's validation and log.

Rows that fail validation are not scored: they keep their place in the output with the problem
in the ``error`` column, so the output lines up with the input row for row.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from poc2prod.errors import DataError
from poc2prod.serve._predictor import Predictor, Problem, describe
from poc2prod.store._predlog import LogWriter, prediction_record

_CHUNK = 50_000


@dataclass
class ScoreResult:
    """What a batch scoring run did."""

    rows: int
    scored: int
    rejected: int
    first_problem: str | None
    output: str
    version: int
    seconds: float
    note: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def score_file(
    predictor: Predictor,
    source: Path,
    output: Path,
    *,
    log_folder: Path | None,
    encoding: str = "utf-8",
    chunk_rows: int = _CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScoreResult:
    """Score every row of ``source`` (CSV or Parquet, text in ``encoding``) into ``output`` (Parquet,
    or CSV by suffix)."""
    from poc2prod.data import load
    from poc2prod.spec import DataSource

    started = time.monotonic()
    frame = load(DataSource(source=str(source), encoding=encoding), Path.cwd(), "--input (the file to score)")
    check_columns(predictor, frame, str(source))
    log = LogWriter(log_folder, "predictions") if log_folder is not None else None
    batch_id = f"batch-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    parts, scored, rejected, first = [], 0, 0, None
    try:
        for start in range(0, len(frame), chunk_rows):
            out, bad = score_chunk(predictor, frame.iloc[start : start + chunk_rows], start, log, batch_id)
            parts.append(out)
            scored += len(out) - len(bad)
            rejected += len(bad)
            if bad and first is None:
                e = bad[min(bad)]
                first = f"row {start + e.row}, field {e.field!r}: {e.problem}"
            if on_progress:
                on_progress(min(start + chunk_rows, len(frame)), len(frame))
    finally:
        if log is not None:
            log.close()
    output = write_table(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(), output)
    return ScoreResult(
        rows=len(frame),
        scored=scored,
        rejected=rejected,
        first_problem=first,
        output=str(output),
        version=predictor.version,
        seconds=time.monotonic() - started,
    )


def check_columns(predictor: Predictor, frame: pd.DataFrame, source: str) -> None:
    """A file to score must have every feature column (empty values are fine)."""
    missing = [f for f in predictor.features if f not in frame.columns]
    if missing:
        raise DataError(
            f"{source} has no column {missing[0]!r}, which the model needs"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; add it (empty is fine when unknown)."
        )
    for name in predictor.numeric:
        values = frame[name].dropna()
        if (
            len(values)
            and not pd.api.types.is_numeric_dtype(values)
            and pd.to_numeric(values, errors="coerce").isna().all()
        ):
            # A whole column of text where the model takes numbers is a file of another shape, not
            # a few bad rows: refused before anything is scored, logged or written.
            raise DataError(
                f"column {name!r} of {source} holds no number (first value: {describe(values.iloc[0])}), "
                "where the model takes numbers; fix the column (a few values that are not numbers "
                "would be refused row by row)."
            )


def score_chunk(
    predictor: Predictor, chunk: pd.DataFrame, start: int, log: LogWriter | None, batch_id: str
) -> tuple[pd.DataFrame, dict[int, Problem]]:
    """Validate and score the rows of ``chunk`` (``start``: the first one's number in the job),
    log the scored ones like the service, and return the answers frame (one row per input row,
    the problem in ``error`` where a row was refused) with the refused rows' problems."""
    rows, errors = _as_numbers(chunk[predictor.features], predictor)
    batch, more = predictor.validate(rows.astype(object).where(rows.notna(), None).to_dict("records"))
    errors += more
    bad = {e.row: e for e in errors}
    good = [i for i in range(len(chunk)) if i not in bad]
    answers: list[dict] = []
    if good:
        sub = batch.take(good)
        answers = predictor.decide(predictor.score(sub))
        if log is not None:
            record = prediction_record(
                batch_id,
                time.time(),
                predictor.version,
                sub.inputs(predictor.numeric, predictor.texts),
                answers,
                sub.flags,
                rows=[start + i for i in good],
            )
            log.append([record])
        answers = predictor.respond(sub, answers)  # what a caller of the service reads
    return _answers_frame(chunk, predictor, good, answers, bad), bad


def write_table(frame: pd.DataFrame, output: Path) -> Path:
    """Write a scoring job's output: CSV when the name ends in .csv, else Parquet."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        frame.to_csv(output, index=False)
    else:
        frame.to_parquet(output, index=False)
    return output


def _as_numbers(rows: pd.DataFrame, predictor: Predictor) -> tuple[pd.DataFrame, list[Problem]]:
    """A file's numeric columns as numbers: a text value where a number belongs is that row's error
    (the other rows of the column are still scored)."""
    rows = rows.copy()
    problems = []
    for name in predictor.numeric:
        col = rows[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        # As plain objects: from an Arrow-backed text column (Ray Data's blocks), to_numeric gives
        # NaN, a value, for a word, where the test below needs a missing one.
        numbers = pd.to_numeric(col.astype(object), errors="coerce").astype(np.float64)
        for i in np.flatnonzero(col.notna().to_numpy() & numbers.isna().to_numpy()):
            problems.append(Problem(int(i), name, f"expected a number, got text {str(col.iloc[i])[:40]!r}"))
        rows[name] = numbers
    return rows, problems


def _answers_frame(
    chunk: pd.DataFrame, predictor: Predictor, good: list[int], answers: list[dict], bad
) -> pd.DataFrame:
    n = len(chunk)
    out = pd.DataFrame(index=range(n))
    if predictor.id_column and predictor.id_column in chunk.columns:
        out[predictor.id_column] = chunk[predictor.id_column].to_numpy()
    # Columns of every key any answer has (an intent's answer text only where it was not routed).
    keys = [k for k in dict.fromkeys(k for a in answers for k in a) if k != "probabilities"]
    for k in keys:
        col = np.full(n, None, dtype=object)
        col[good] = [a.get(k) for a in answers]
        out[k] = col
    if answers and "probabilities" in answers[0]:
        for cls in predictor.classes:
            col = np.full(n, np.nan)
            col[good] = [a["probabilities"][cls] for a in answers]
            out[f"p_{cls}"] = col
    # Text even when no row failed: a file of a job scored in parts then types it like the others.
    out["error"] = pd.array(
        [None if i not in bad else f"field {bad[i].field!r}: {bad[i].problem}" for i in range(n)],
        dtype="string",
    )
    return out
