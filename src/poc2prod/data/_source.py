"""Reading a data source (CSV, Parquet or SQL) into a DataFrame, with errors a user can act on."""

from __future__ import annotations

import codecs
import csv
import hashlib
from pathlib import Path

import pandas as pd

from poc2prod.errors import DataError
from poc2prod.spec import DataSource

_DELIMITERS = ",;\t|"


def load(source: DataSource, base: Path, named: str = "data.source in poc2prod.yaml") -> pd.DataFrame:
    """Load ``source`` (paths relative to ``base``) with a fresh ``RangeIndex`` of row positions.

    ``named`` is where the user gave the source (the spec's key, or a command's option), so that an
    error says what to fix.
    """
    if source.kind == "sql":
        frame = _read_sql(source)
    else:
        path = Path(source.source)
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise DataError(f"data file {path} does not exist; fix {named}.")
        if path.stat().st_size == 0:
            raise DataError(f"data file {path} is empty; point {named} at a file with rows.")
        frame = _read_parquet(path) if source.kind == "parquet" else _read_csv(path, source)
    if frame.shape[1] == 0:
        raise DataError(f"{source.source} has no columns; check the file and its delimiter.")
    if len(frame) == 0:
        raise DataError(f"{source.source} has a header but no rows; point {named} at data with rows.")
    return frame.reset_index(drop=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash, so a frozen split can tell whether the data underneath changed."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()[:16]


def detect_encoding(path: Path, *, fails: str | None = None) -> str:
    """``utf-8`` if ``path`` decodes as UTF-8, else ``cp1252`` (what spreadsheet exports on Windows
    write), else ``latin-1``, which decodes any byte. ``fails``: an encoding already known not to
    decode it, not read again."""
    for encoding in ("utf-8", "cp1252"):
        if encoding != fails and _first_undecodable(path, encoding) is None:
            return encoding
    return "latin-1"


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """The line number and byte of the first bytes of ``path`` that are not ``encoding`` text."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                # The error's offset counts from the undecoded bytes the decoder held back plus
                # this chunk; the lines before it are those of the chunk up to the bad byte, close
                # enough when a held-back sequence straddles chunks (at most 3 bytes).
                start = max(0, e.start - len(e.object) + len(chunk))
                return line + chunk.count(b"\n", 0, start), chunk[start]
            line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line, 0
    return None


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
    except UnicodeDecodeError:
        # pandas reports the byte within its read buffer; find the line a user can look at.
        where = _first_undecodable(path, source.encoding)
        at = f"line {where[0]} holds byte 0x{where[1]:02x}" if where else "a byte does not decode"
        raise DataError(
            f"{path} is not {source.encoding} text ({at}); set data.encoding in poc2prod.yaml "
            f"(this file reads as {detect_encoding(path, fails=source.encoding)})."
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
        header = str(frame.columns[0])
        header = header if len(header) <= 60 else header[:57] + "..."
        raise DataError(f"{path} was read as a single column {header!r}; set data.sep to its delimiter.")
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
