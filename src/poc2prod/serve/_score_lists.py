"""Batch recommendation: every user's list in one job (a nightly e-mail, a cache to fill).

The users come from a file (its user column) or are every user the model knows. Lists are made a
few thousand users at a time, with the same exclusions as the service (purchases reported since
the fit included) and logged like the service's, so monitoring sees batch lists too. The output
is long: one row per user and rank.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from poc2prod.errors import DataError
from poc2prod.serve._recommend import RecommendPredictor
from poc2prod.serve._score import ScoreResult, write_table
from poc2prod.store._predlog import LogWriter

_CHUNK = 256  # users per model call: 256 ran at 6.4-7k users/s on the retail log, 2,048 at 4.5-5.2k


def score_users(
    predictor: RecommendPredictor,
    source: Path | None,
    output: Path,
    *,
    user_column: str,
    k: int | None = None,
    log_folder: Path | None,
    encoding: str = "utf-8",
    on_progress: Callable[[int, int], None] | None = None,
) -> ScoreResult:
    """Write the top ``k`` (the spec's by default) of each user in ``source`` (CSV or Parquet with
    a ``user_column``, text in ``encoding``; every known user when None) to ``output`` (Parquet,
    or CSV by suffix)."""
    from poc2prod.data import load
    from poc2prod.spec import DataSource

    started = time.monotonic()
    k = predictor.k_of(k)
    if source is None:
        users = [str(u) for u in predictor.model.users]
    else:
        where = "--input (the users to list)"
        frame = load(DataSource(source=str(source), encoding=encoding), Path.cwd(), where)
        if user_column not in frame.columns:
            raise DataError(
                f"{source} has no column {user_column!r} of user ids; name it so, or score every known "
                "user with --all-users."
            )
        ids = frame[user_column].dropna()
        if pd.api.types.is_float_dtype(ids) and (ids % 1 == 0).all():
            ids = ids.astype(np.int64)  # 12347.0 is the user 12347, read as a float beside blanks
        users = list(dict.fromkeys(str(u) for u in ids))
        if not users:
            raise DataError(f"{source} lists no user in {user_column!r}; nothing to recommend for.")
    log = LogWriter(log_folder, "predictions") if log_folder is not None else None
    batch_id = f"batch-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    parts = []
    known = 0
    try:
        for start in range(0, len(users), _CHUNK):
            chunk = users[start : start + _CHUNK]
            answers = predictor.recommend(chunk, k)
            now = time.time()
            if log is not None:
                log.append(
                    {
                        "request_id": batch_id,
                        "row": start + i,
                        "time": now,
                        "version": predictor.version,
                        "user": a.user,
                        "known": a.known,
                        "items": predictor.log_items(a, k),
                    }
                    for i, a in enumerate(answers)
                )
            lengths = [len(a.items) for a in answers]
            columns = np.concatenate([a.items for a in answers]) if answers else np.zeros(0, np.int64)
            model = predictor.model
            parts.append(
                pd.DataFrame(
                    {
                        "user": np.repeat(chunk, lengths),
                        "rank": np.concatenate([np.arange(1, n + 1) for n in lengths]),
                        "item": model.items[columns],
                        "name": [model.name(j) for j in columns],
                        "score": np.concatenate([a.scores for a in answers]),
                        "known": np.repeat([a.known for a in answers], lengths),
                    }
                )
            )
            known += sum(a.known for a in answers)
            if on_progress:
                on_progress(min(start + _CHUNK, len(users)), len(users))
    finally:
        if log is not None:
            log.close()
    result = pd.concat(parts, ignore_index=True)
    result["score"] = result["score"].where(np.isfinite(result["score"]))
    output = write_table(result, output)
    unknown = len(users) - known
    return ScoreResult(
        rows=len(users),
        scored=len(users),
        rejected=0,
        first_problem=None,
        output=str(output),
        version=predictor.version,
        seconds=time.monotonic() - started,
        note=f"{unknown:,} user(s) with no history got the popular list" if unknown else None,
    )
