"""The prediction log: appends survive the writer, torn lines are skipped, segments roll over."""

from __future__ import annotations

from poc2prod.store._predlog import LogWriter, read_log


def test_appends_are_read_back_in_order(tmp_path):
    log = LogWriter(tmp_path, "predictions")
    log.append({"request_id": "a", "row": i} for i in range(3))
    log.append([{"request_id": "b", "row": 0}])
    # Readable before close: a killed process leaves its lines in the file.
    got = [(r["request_id"], r["row"]) for r in read_log(tmp_path)]
    assert got == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    log.close()


def test_a_full_disk_fails_the_append_and_leaves_the_log_readable(tmp_path, monkeypatch):
    import os

    import pytest

    from poc2prod.errors import ProjectError
    from poc2prod.store import _predlog

    log = LogWriter(tmp_path, "predictions")
    log.append([{"request_id": "a", "row": 0}])
    real = os.write
    calls = []

    def short(fd, data):  # the disk fills up half way through the next append
        calls.append(len(data))
        return real(fd, data[: len(data) // 2]) if len(calls) == 1 else real(fd, data)

    monkeypatch.setattr(_predlog.os, "write", short)
    with pytest.raises(ProjectError, match="out of disk space"):
        log.append([{"request_id": "b", "row": 0}])
    log.append([{"request_id": "c", "row": 0}])
    log.close()
    assert [r["request_id"] for r in read_log(tmp_path)] == ["a", "c"]  # the torn line is skipped


def test_a_disk_too_full_to_end_the_torn_line_ends_it_on_the_next_append(tmp_path, monkeypatch):
    import os

    import pytest

    from poc2prod.errors import ProjectError
    from poc2prod.store import _predlog

    log = LogWriter(tmp_path, "predictions")
    log.append([{"request_id": "a", "row": 0}])
    real = os.write
    full = {"on": True}

    def write(fd, data):  # half the records fit; then not one byte more until space is freed
        if full["on"]:
            full["on"] = False
            n = real(fd, data[: len(data) // 2])
            monkeypatch.setattr(_predlog.os, "write", lambda fd, data: _raise(OSError(28, "No space left")))
            return n
        return real(fd, data)

    def _raise(e):
        raise e

    monkeypatch.setattr(_predlog.os, "write", write)
    with pytest.raises(ProjectError, match="out of disk space"):
        log.append([{"request_id": "b", "row": 0}])
    with pytest.raises(ProjectError, match="cannot be written"):
        log.append([{"request_id": "c", "row": 0}])
    monkeypatch.setattr(_predlog.os, "write", real)  # space freed
    log.append([{"request_id": "d", "row": 0}])
    log.close()
    assert [r["request_id"] for r in read_log(tmp_path)] == ["a", "d"]


def test_segments_roll_over_and_kinds_stay_apart(tmp_path):
    log = LogWriter(tmp_path, "predictions", max_bytes=200)
    for i in range(20):
        log.append([{"request_id": f"r{i}", "row": 0, "inputs": {"x": i}}])
    log.close()
    feedback = LogWriter(tmp_path, "feedback")
    feedback.append([{"request_id": "r1", "row": 0, "label": 1}])
    feedback.close()
    assert len(list(tmp_path.glob("predictions-*.jsonl"))) > 3
    assert [r["request_id"] for r in read_log(tmp_path)] == [f"r{i}" for i in range(20)]
    assert read_log(tmp_path, "feedback") == [{"request_id": "r1", "row": 0, "label": 1}]


def test_an_idle_writer_leaves_no_file(tmp_path):
    LogWriter(tmp_path, "predictions").close()
    assert list(tmp_path.iterdir()) == []
