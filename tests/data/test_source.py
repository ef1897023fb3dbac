"""Loading data: CSV (any delimiter), Parquet, SQL, and every way a file can be wrong."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from poc2prod.data import load
from poc2prod.errors import DataError
from poc2prod.spec import DataSource
from tests.conftest import BANK, GERMAN


def test_semicolon_csv_is_sniffed(tmp_path):
    frame = load(DataSource(source=str(BANK)), tmp_path)
    assert frame.shape == (41188, 21)
    assert frame["y"].isin(["yes", "no"]).all()


def test_relative_path_and_parquet(tmp_path, german):
    german.to_parquet(tmp_path / "g.parquet")
    frame = load(DataSource(source="g.parquet"), tmp_path)
    pd.testing.assert_frame_equal(frame, german)


def test_sql_query(tmp_path, german):
    db = tmp_path / "loans.db"
    with sqlite3.connect(db) as conn:
        german.to_sql("loans", conn, index=False)
    source = DataSource(source=f"sqlite:///{db}", query="SELECT * FROM loans WHERE age_years > 30")
    frame = load(source, tmp_path)
    assert len(frame) == (german["age_years"] > 30).sum()
    with pytest.raises(DataError, match="the SQL query in data.query failed .*no such table"):
        load(DataSource(source=f"sqlite:///{db}", query="SELECT * FROM nope"), tmp_path)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b"a,b,target\n", "has a header but no rows"),
        ("name,target\nJos\xe9,1\n".encode("latin-1"), "is not utf-8 text"),
        (b'a,b\n1,"unterminated\n', "could not be parsed as CSV"),
    ],
)
def test_bad_files(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=fragment):
        load(DataSource(source=str(path)), tmp_path)


def test_wrong_delimiter_is_named(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_bytes(GERMAN.read_bytes().replace(b",", b";"))
    with pytest.raises(DataError, match="could not be parsed|single column"):
        load(DataSource(source=str(path), sep="|"), tmp_path)
    assert load(DataSource(source=str(path)), tmp_path).shape == (1000, 21)


def test_latin1_with_encoding_set(tmp_path):
    path = tmp_path / "l1.csv"
    path.write_bytes("name,target\nJos\xe9,1\nAna,0\n".encode("latin-1"))
    assert load(DataSource(source=str(path), encoding="latin-1"), tmp_path)["name"][0] == "José"


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist; fix data.source"):
        load(DataSource(source="nope.csv"), tmp_path)


def test_not_parquet(tmp_path):
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load(DataSource(source="x.parquet"), tmp_path)
