"""Creating a recommendation project: find the roles of an interaction log's columns (who, what,
when, how much, and the retail extras) and write a commented spec.

A column's role is read from its name first (``CustomerID`` is a user, ``StockCode`` an item) and
checked against its values (a user column repeats, a time column parses as dates); a role the user
names (``--user``, ``--item``, ``--time``) is taken as given. A role that cannot be told is one
sentence naming the flag that sets it.

>>> frame = pd.DataFrame({"InvoiceNo": ["1", "1", "2"], "StockCode": ["a", "b", "a"],
...     "Quantity": [1, 2, 1], "InvoiceDate": ["2024-01-01", "2024-01-01", "2024-01-02"],
...     "UnitPrice": [1.0, 2.0, 1.0], "CustomerID": [7, 7, 8], "Description": ["x", "y", "x"]})
>>> infer_roles(frame)
{'user': 'CustomerID', 'item': 'StockCode', 'time': 'InvoiceDate', 'weight': 'Quantity', \
'invoice': 'InvoiceNo', 'price': 'UnitPrice', 'description': 'Description'}
"""

from __future__ import annotations

import re

import pandas as pd

from poc2prod.errors import DataError

_NAMES = {
    "user": r"user|customer|client|member|visitor|buyer|account|shopper|person",
    "item": r"item|product|sku|stock.?code|article|movie|track|song|isbn|asin|offer|listing",
    "time": r"time|date|timestamp|^ts$|when|created|event.?at",
    "weight": r"quantity|qty|count|rating|score|amount|plays|clicks|units",
    "invoice": r"invoice|order|basket|transaction|receipt|session",
    "price": r"price|cost",
    "description": r"description|title|name|label",
}
REQUIRED = ("user", "item", "time")


def looks_like_a_log(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` reads as a user × item interaction log (all three required roles found)."""
    try:
        infer_roles(frame)
    except DataError:
        return False
    return True


def infer_roles(frame: pd.DataFrame, given: dict[str, str | None] | None = None) -> dict[str, str]:
    """Each role's column: ``given`` ones as they are, the others by name and values."""
    roles = {k: v for k, v in (given or {}).items() if v}
    for role, col in roles.items():
        if col not in frame.columns:
            raise DataError(
                f"--{role} {col!r} is not a column of the data; its columns are "
                f"{', '.join(map(repr, list(frame.columns)[:12]))}."
            )
    for role, pattern in _NAMES.items():
        if role in roles:
            continue
        taken = set(roles.values())
        found = [
            c
            for c in frame.columns
            if c not in taken and re.search(pattern, str(c), re.IGNORECASE) and _fits(role, frame[c])
        ]
        if found:
            roles[role] = found[0]
    missing = [r for r in REQUIRED if r not in roles]
    if missing:
        what = {"user": "who interacted", "item": "what with", "time": "when"}[missing[0]]
        raise DataError(
            f"could not tell which column is the {missing[0]} ({what}); name it with --{missing[0]} COLUMN."
        )
    return {r: roles[r] for r in _NAMES if r in roles}


def _fits(role: str, values: pd.Series) -> bool:
    """Whether a column's values can play ``role``."""
    v = values.dropna()
    if v.empty:
        return False
    if role in ("user", "item", "invoice"):
        return v.nunique() < len(v)  # ids that repeat: several interactions each
    if role == "time":
        if pd.api.types.is_datetime64_any_dtype(v):
            return True
        sample = v.astype(str).head(200)
        return pd.to_datetime(sample, errors="coerce", format="mixed").notna().mean() > 0.9
    if role in ("weight", "price"):
        return pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v)
    return pd.api.types.is_object_dtype(v) or pd.api.types.is_string_dtype(v)


def render_recommend_spec(
    frame: pd.DataFrame,
    *,
    name: str,
    source: str,
    roles: dict[str, str],
    reading: dict[str, str],
    query: str | None,
) -> str:
    """The text of a commented poc2prod.yaml for a recommendation project over ``frame``."""
    from poc2prod.scaffold import data_section
    from poc2prod.scaffold import yaml_value as q

    def optional(key: str, comment: str) -> str:
        value = roles.get(key)
        return f"  {'' if value else '# '}{key}: {q(value)}   # {comment}"

    lines = [
        "# poc2prod project spec: edit freely; `poc2prod prove` checks every key.",
        f"name: {q(name)}",
        "task: recommend",
        "",
        *data_section(source, query, reading, "SELECT * FROM interactions"),
        "",
        "columns:",
        f"  user: {q(roles['user'])}      # who interacted",
        f"  item: {q(roles['item'])}      # with what",
        f"  time: {q(roles['time'])}      # when: the split is by time, the future judges",
        f"  {'' if roles.get('weight') else '# '}weight: {q(roles.get('weight'))}"
        "   # how much (a quantity, a rating); 1 per row if absent",
        "",
        "recommend:",
        "  k: 10                # items per list",
        optional("invoice", 'invoices starting with "C" are cancellations, dropped'),
        optional("price", "rows without a positive price are dropped; prices value the lists"),
        optional("description", "item names, shown beside each recommendation"),
        "  non_products: []     # item codes that are fees or charges, not products",
        "",
        "# Success criteria agreed with the client, judged on the weeks after the time cut.",
        "criteria:",
        "  - recall@10 >= 0.05",
        "",
        "# What an accepted recommendation (a listed item the user buys) earns.",
        "value:",
        "  currency: EUR",
        "  accepted: 0.0        # money per accepted recommendation",
        f"  margin: {0.3 if roles.get('price') else 0.0}          # share of the item's price earned "
        "(needs price)",
        "  decisions_per_month: null   # lists shown a month",
        "",
        "split:",
        "  holdout: 0.2         # the latest share of interactions: the future",
        "  seed: 42",
        "",
        "budget:                # seconds",
        "  prove: 60",
        "  optimize: 300",
        "",
        "monitoring:",
        "  window: 7d",
        "  attribution: 30d     # a purchase counts as accepted within this time of its list",
        "  min_labels: 100",
    ]
    return "\n".join(lines) + "\n"
