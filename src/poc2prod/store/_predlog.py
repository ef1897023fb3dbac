"""The prediction log: every scored row and every late label, appended where monitoring reads them.

Each serving process appends JSON lines to its own segment file with one ``write`` per batch,
*before* the answer is sent. Once ``write`` returns, the lines are in the operating system's page
cache, so a killed or crashed server process loses nothing it answered; a background thread
fsyncs every ``sync_seconds`` (1 s by default), which bounds what a power loss or kernel crash can
take. A segment rolls over at ``max_bytes``. Readers skip a torn last line (a write cut short by a
full disk), so a damaged segment never hides the rest.

Layout: ``<folder>/predictions-<start>-<pid>.jsonl`` and ``<folder>/feedback-<start>-<pid>.jsonl``.
A prediction line holds one request, by column (:func:`prediction_record`): writing a 100-row
request as one object of lists costs a fraction of 100 row objects. :func:`read_log` gives it back
a row at a time.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from poc2prod.errors import ProjectError

_MAX_BYTES = 64 << 20
_SEGMENTS = itertools.count()  # a process's segments sort in the order they were opened


class LogWriter:
    """Appends records of one kind (``predictions`` or ``feedback``) for this process."""

    def __init__(self, folder: Path, kind: str, *, sync_seconds: float = 1.0, max_bytes: int = _MAX_BYTES):
        self.folder = Path(folder)
        self.kind = kind
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._dirty = False
        self._torn = False  # the last line written was cut short by a full disk
        self.folder.mkdir(parents=True, exist_ok=True)
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, args=(sync_seconds,), daemon=True)
        self._syncer.start()

    def _open(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.folder / f"{self.kind}-{stamp}-{os.getpid()}-{next(_SEGMENTS):06d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self.path = path
        self._size = 0

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Write ``records`` as one append; raises :class:`ProjectError` if they cannot all be written."""
        data = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
        with self._lock:
            if self._torn:  # end the line a full disk cut short, or these records would join it
                data = b"\n" + data
            try:
                if self._fd is None:  # opened on first use: an idle process leaves no empty segment
                    self._open()
                written = os.write(self._fd, data)
            except OSError as e:
                raise ProjectError(
                    f"the {self.kind} log cannot be written ({e.strerror}); free disk space."
                ) from None
            if written != len(data):
                # A short write: the disk filled up. End the torn line now if a byte still fits,
                # else before the next append.
                if written:
                    self._torn = not data[:written].endswith(b"\n")
                if self._torn:
                    with contextlib.suppress(OSError):
                        self._torn = os.write(self._fd, b"\n") != 1
                raise ProjectError(f"the {self.kind} log is out of disk space; free disk space.")
            self._torn = False
            self._size += written
            self._dirty = True
            if self._size >= self.max_bytes:
                fd, self._fd = self._fd, None  # the next append opens the next segment
                with contextlib.suppress(OSError):  # the lines are in the OS's cache, as after any append
                    os.fsync(fd)
                os.close(fd)

    def _sync_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.sync()

    def sync(self) -> None:
        """Flush what was appended to the disk."""
        with self._lock:
            if not self._dirty or self._fd is None:
                return
            # fsync can take a disk's whole flush time; on a duplicate of the descriptor it runs
            # outside the lock, so appends (and the requests waiting on them) never wait for it.
            fd = os.dup(self._fd)
            self._dirty = False
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Flush and close (a graceful shutdown)."""
        self._stop.set()
        self.sync()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def prediction_record(
    request_id: str,
    time: float,
    version: int,
    inputs: dict[str, Any],
    answers: list[dict[str, Any]],
    flags: list[list[str]],
    rows: list[int] | None = None,
) -> dict[str, Any]:
    """One request's line of the prediction log.

    ``inputs`` is ``Batch.inputs``: ``numeric`` (names), ``numbers`` (a row per row) and ``texts``
    (values by name); then per row the answer and the flags. ``rows`` numbers the rows when they
    are not 0, 1, ... (a scored file's rows that passed validation).
    """
    record = {
        "request_id": request_id,
        "time": time,
        "version": version,
        **inputs,
        "answers": answers,
        "flags": flags,
    }
    if rows is not None:
        record["rows"] = rows
    return record


def _rows_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A request's line as one record per row: request id, row, time, version, inputs, answer, flags."""
    if "answers" not in record:
        return [record]
    numbers = record.get("rows") or range(len(record["answers"]))
    names, texts = record["numeric"], record["texts"]
    shadow = record.get("shadow")  # a challenger scored beside the champion (serve --shadow)
    return [
        {
            "request_id": record["request_id"],
            "row": row,
            "time": record["time"],
            "version": record["version"],
            "inputs": {**dict(zip(names, values, strict=True)), **{k: v[i] for k, v in texts.items()}},
            **answer,
            "flags": record["flags"][i],
            **({"shadow_version": shadow["version"], "shadow_score": shadow["scores"][i]} if shadow else {}),
        }
        for i, (row, values, answer) in enumerate(
            zip(numbers, record["numbers"], record["answers"], strict=True)
        )
    ]


def read_log(folder: Path, kind: str = "predictions") -> list[dict[str, Any]]:
    """Every record of ``kind`` in ``folder``, segment by segment in time order; a prediction
    request's line gives one record per row."""
    records: list[dict[str, Any]] = []
    for path in sorted(glob.glob(str(Path(folder) / f"{kind}-*.jsonl"))):
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn line from a full disk: the rest of the segment is still good
                records.extend(_rows_of(record))
    return records
