"""Shared fixtures: the real data sets in ../shared/data and small projects built on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GERMAN = SHARED / "uci_statlog_german_credit" / "german_credit.csv"
TAIWAN = SHARED / "uci_default_credit_card_taiwan" / "UCI_Credit_Card.csv"
BANK = SHARED / "uci_bank_marketing" / "bank-additional-full.csv"
RETAIL = SHARED / "uci_online_retail" / "online_retail.parquet"
RETAIL_ROLES = {
    "user": "CustomerID",
    "item": "StockCode",
    "time": "InvoiceDate",
    "weight": "Quantity",
    "description": "Description",
}


def pytest_configure(config):
    missing = [p for p in (GERMAN, TAIWAN, BANK, RETAIL) if not p.is_file()]
    if missing:
        raise pytest.UsageError(f"test data missing: {missing[0]}; clone with ../shared beside the repo.")


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN)


@pytest.fixture(scope="session")
def taiwan() -> pd.DataFrame:
    return pd.read_csv(TAIWAN)


@pytest.fixture
def german_project(tmp_path):
    """A fresh project on the German credit data (bad credit = 2 is the positive class)."""
    from poc2prod import Project

    data = tmp_path / "german_credit.csv"
    data.write_bytes(GERMAN.read_bytes())
    return Project.init(tmp_path / "proj", data=data, target="class")


def write_spec(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "poc2prod.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def deploy_example(folder: Path):
    """The shipped credit example in ``folder``, proven with LightGBM only and deployed (version 1,
    champion)."""
    from poc2prod import Project

    project = Project.init(folder, example="credit-risk")
    project.prove(budget=15, models=["lightgbm"])
    project.deploy()
    return project


def log_labelled_traffic(project, folder: Path, rows: int) -> pd.DataFrame:
    """Score the first ``rows`` German applicants into ``project``'s log (as `poc2prod score`
    does) and send their outcomes as late labels; returns the German data."""
    from poc2prod.monitor._log import read_predictions
    from poc2prod.store._predlog import LogWriter

    frame = pd.read_csv(GERMAN)
    frame.drop(columns=["class"]).head(rows).to_csv(folder / "traffic.csv", index=False)
    project.score(folder / "traffic.csv", folder / "traffic.parquet")
    logged = read_predictions(project.log_folder)
    feedback = LogWriter(project.log_folder, "feedback")
    feedback.append(
        {"request_id": r, "row": int(i), "label": int(frame["class"].iloc[i]), "time": 0.0}
        for r, i in zip(logged["request_id"], logged["row"], strict=True)
    )
    feedback.close()
    return frame


@pytest.fixture(scope="session")
def deployed(tmp_path_factory):
    """A deployed credit example shared by the tests that only read it."""
    return deploy_example(tmp_path_factory.mktemp("deployed") / "credit")


def german_rows(n: int = 5, start: int = 0) -> list[dict]:
    """Rows of the German credit data as a client would send them (features only)."""
    frame = pd.read_csv(GERMAN).drop(columns=["class"]).iloc[start : start + n]
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@pytest.fixture(scope="session")
def retail_raw() -> pd.DataFrame:
    """The real UCI Online Retail log, as shipped."""
    return pd.read_parquet(RETAIL)


@pytest.fixture(scope="session")
def cleaned(retail_raw) -> tuple[pd.DataFrame, list[str]]:
    """The retail log cleaned (guests, cancellations, charges dropped) and the notes saying so."""
    from poc2prod.recommend import RETAIL_NON_PRODUCTS, clean_log

    return clean_log(
        retail_raw, **RETAIL_ROLES, invoice="InvoiceNo", price="UnitPrice", non_products=RETAIL_NON_PRODUCTS
    )


@pytest.fixture(scope="session")
def log(cleaned):
    """The cleaned retail log, indexed."""
    from poc2prod.recommend import Interactions

    return Interactions.from_frame(cleaned[0])


@pytest.fixture(scope="session")
def split(log):
    """A global time cut with the last 20 % of interactions as the future."""
    from poc2prod.recommend import time_split

    return time_split(log, holdout=0.2)
