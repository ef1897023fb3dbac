"""The real UCI Online Retail log, cleaned and split once for every recommendation test."""

from __future__ import annotations

import pandas as pd
import pytest

from poc2prod.recommend import RETAIL_NON_PRODUCTS, Interactions, clean_log, time_split
from tests.conftest import SHARED

RETAIL = SHARED / "uci_online_retail" / "online_retail.parquet"
ROLES = {
    "user": "CustomerID",
    "item": "StockCode",
    "time": "InvoiceDate",
    "weight": "Quantity",
    "description": "Description",
}


@pytest.fixture(scope="session")
def raw() -> pd.DataFrame:
    return pd.read_parquet(RETAIL)


@pytest.fixture(scope="session")
def cleaned(raw) -> tuple[pd.DataFrame, list[str]]:
    return clean_log(raw, **ROLES, invoice="InvoiceNo", price="UnitPrice", non_products=RETAIL_NON_PRODUCTS)


@pytest.fixture(scope="session")
def log(cleaned) -> Interactions:
    return Interactions.from_frame(cleaned[0])


@pytest.fixture(scope="session")
def split(log):
    """A global time cut with the last 20 % of interactions as the future."""
    return time_split(log, holdout=0.2)
