"""Reading a data source (CSV, Parquet or SQL) into a DataFrame, with errors a user can act on."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd

from poc2prod.errors import DataError
from poc2prod.spec import DataSource

_DELIMITERS = ",;\t|"


def load(source: DataSource, base: Path) -> pd.DataFrame:
    """Load ``source`` (paths relative to ``base``) with a fresh ``RangeIndex`` of row positions."""
    if source.kind == "sql":
        frame = _read_sql(source)
    else:
        path = Path(source.source)
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise DataError(f"data file {path} does not exist; fix data.source in poc2prod.yaml.")
        if path.stat().st_size == 0:
            raise DataError(f"data file {path} is empty; point data.source at a file with rows.")
        frame = _read_parquet(path) if source.kind == "parquet" else _read_csv(path, source)
    if frame.shape[1] == 0:
        raise DataError(f"{source.source} has no columns; check the file and its delimiter.")
    if len(frame) == 0:
        raise DataError(f"{source.source} has a header but no rows; point data.source at data with rows.")
    return frame.reset_index(drop=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash, so a frozen split can tell whether the data underneath changed."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()[:16]


def sniff_delimiter(path: Path, encoding: str) -> str:
    """The CSV delimiter among , ; tab | that best explains the first lines of ``path``."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        head = f.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = head.splitlines()[0] if head else ""
        return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","


def _read_csv(path: Path, source: DataSource) -> pd.DataFrame:
    sep = source.sep or sniff_delimiter(path, source.encoding)
    try:
        frame = pd.read_csv(path, sep=sep, encoding=source.encoding, low_memory=False)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not {source.encoding} text (byte {e.start}); set data.encoding in "
            "poc2prod.yaml (for example latin-1 or cp1252)."
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"data file {path} has no header and no rows; point data.source at a CSV with rows."
        ) from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().splitlines()[-1]
        raise DataError(
            f"{path} could not be parsed as CSV with delimiter {sep!r} ({detail}); set data.sep."
        ) from None
    if frame.shape[1] == 1 and any(d in str(frame.columns[0]) for d in _DELIMITERS if d != sep):
        raise DataError(
            f"{path} was read as a single column {frame.columns[0]!r}; set data.sep to its delimiter."
        )
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            f"{path} is not a readable Parquet file ({type(e).__name__}); check the file."
        ) from None


def _read_sql(source: DataSource) -> pd.DataFrame:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(source.source)
    except Exception as e:
        raise DataError(f"data.source {source.source!r} is not a usable SQLAlchemy URL ({e}).") from None
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(source.query), conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as e:
        cause = e.__cause__ if isinstance(e, pd.errors.DatabaseError) and e.__cause__ else e
        detail = str(getattr(cause, "orig", cause)).splitlines()[0]
        raise DataError(f"the SQL query in data.query failed ({detail}); fix the query or the URL.") from None
    finally:
        engine.dispose()
