"""Creating a project: infer a sensible spec from the data and write it with comments to edit.

Shipped examples are complete little projects under ``poc2prod/examples/<name>/`` (data, its
SOURCE.md and a poc2prod.yaml); ``init --example`` copies one.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from poc2prod.errors import DataError, ProjectError
from poc2prod.spec import SPEC_FILE, DataSource, Spec

EXAMPLES = {
    "credit-risk": "credit_risk",
    "intents": "intents",
    "sentiment": "sentiment",
    "topics": "topics",
    "recommend": "recommend",
}

_DEFAULT_CRITERIA = {"binary": "roc_auc >= 0.75", "multiclass": "macro_f1 >= 0.8", "regression": "r2 >= 0.5"}
_ID_NAME = re.compile(r"(^|[_\W])id$|^id[_\W]|^(key|uuid|index)$", re.IGNORECASE)


def scaffold(
    root: Path,
    *,
    data: str | Path | None,
    query: str | None,
    target: str | None,
    task: str | None,
    example: str | None,
    drop: list[str],
    force: bool,
    roles: dict[str, str | None] | None = None,
) -> Path:
    """Write ``root/poc2prod.yaml`` (and copy an example's data); returns the spec's path.

    Without ``target``, the data is read as a user × item interaction log (``task: recommend``),
    its columns' roles inferred unless ``roles`` (user, item, time) names them."""
    spec_path = root / SPEC_FILE
    if spec_path.exists() and not force:
        raise ProjectError(f"{spec_path} already exists; edit it, or pass --force to overwrite it.")
    if example is not None:
        return _copy_example(root, example, force)
    if data is None:
        raise ProjectError("init needs --data and --target (or --example credit-risk).")
    if target is None and task not in (None, "recommend"):
        raise ProjectError(f"init needs --target for a {task} task: the column to predict.")
    from poc2prod.data import detect_encoding, load, sniff_delimiter

    reading: dict[str, str] = {}  # how to read the file, when not the defaults (commas, UTF-8)
    if "://" in str(data):  # a database: the URL and the query go into the spec as given
        ds = DataSource(source=str(data), query=query)
        source = str(data)
    else:
        source = _relative_source(Path(data), root)
        ds = DataSource(source=str(Path(data).resolve()))
        if ds.kind == "csv" and Path(data).is_file():
            encoding = detect_encoding(Path(data))
            sep = sniff_delimiter(Path(data), encoding)
            reading = {k: v for k, v in (("sep", sep), ("encoding", encoding)) if v not in (",", "utf-8")}
            ds = ds.model_copy(update=reading)
    frame = load(ds, Path.cwd(), "--data")
    if target is None:
        from poc2prod.scaffold_recommend import infer_roles, render_recommend_spec

        named = any((roles or {}).values())  # naming a user, item or time column says it is a log
        if task is None and not named and not _reads_as_log(frame):
            raise ProjectError(
                "init needs --target (the column to predict); for a user × item log, pass "
                "--task recommend (and --user/--item/--time if their names are unusual)."
            )
        text = render_recommend_spec(
            frame,
            name=root.resolve().name,
            source=source,
            roles=infer_roles(frame, roles),
            reading=reading,
            query=query,
        )
        return _write(root, spec_path, text)
    if target not in frame.columns:
        raise DataError(
            f"target {target!r} is not a column of {data}; its columns are "
            f"{', '.join(map(repr, list(frame.columns)[:12]))}."
        )
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} given to --drop is not in {data}.")
    text = render_spec(
        frame,
        name=root.resolve().name,
        source=source,
        target=target,
        task=task,
        drop=drop,
        reading=reading,
        query=query,
    )
    return _write(root, spec_path, text, frame)


def yaml_value(v) -> str:
    """``v`` as it reads in a YAML line."""
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("\n...").strip()


def data_section(source: str, query: str | None, reading: dict[str, str], example_query: str) -> list[str]:
    """The spec's ``data:`` lines: where the rows are, and how to read them when not the defaults."""
    lines = [
        "data:",
        f"  source: {yaml_value(source)}       # CSV or Parquet path (relative to this file), "
        "or an SQLAlchemy URL",
        f"  query: {yaml_value(query)}" if query else f"  # query: {example_query}",
    ]
    if "sep" in reading:
        lines.append(f"  sep: {yaml_value(reading['sep'])}")
    if "encoding" in reading:
        lines.append(
            f"  encoding: {reading['encoding']}   # not UTF-8: read as {reading['encoding']}; "
            "check that accented values read right"
        )
    return lines


def _write(root: Path, spec_path: Path, text: str, frame: pd.DataFrame | None = None) -> Path:
    spec = Spec.from_yaml(text)  # what init writes must always load
    if frame is not None:
        from poc2prod.data import infer_schema

        infer_schema(frame, spec)  # an impossible target (one class, all missing) stops here, as in prove
    root.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(text, encoding="utf-8")
    return spec_path


def _reads_as_log(frame: pd.DataFrame) -> bool:
    from poc2prod.scaffold_recommend import looks_like_a_log

    return looks_like_a_log(frame)


def infer_task(y: pd.Series) -> str:
    """binary for two values, regression for many numeric values, multiclass otherwise."""
    values = y.dropna()
    n = values.nunique()
    if n <= 2:
        return "binary"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        integral = bool((values.astype(float) % 1 == 0).all())
        if not integral or n > 20:
            return "regression"
    return "multiclass"


def render_spec(
    frame: pd.DataFrame,
    *,
    name: str,
    source: str,
    target: str,
    task: str | None,
    drop: list[str],
    reading: dict[str, str],
    query: str | None = None,
) -> str:
    """The text of a commented poc2prod.yaml inferred from ``frame``."""
    task = task or infer_task(frame[target])
    y = frame[target].dropna()
    positive = None
    if task == "binary":
        positive = y.value_counts().idxmin()
        positive = positive.item() if hasattr(positive, "item") else positive
    id_col = next(
        (
            c
            for c in frame.columns
            if c != target and _ID_NAME.search(str(c)) and frame[c].notna().all() and frame[c].is_unique
        ),
        None,
    )
    dates = [c for c in frame.columns if c != target and pd.api.types.is_datetime64_any_dtype(frame[c])]

    q = yaml_value
    lines = [
        "# poc2prod project spec: edit freely; `poc2prod prove` checks every key.",
        f"name: {q(name)}",
        f"task: {task}               # binary | multiclass | regression",
        "",
        *data_section(source, query, reading, "SELECT * FROM loans  # needed when source is a database URL"),
        "",
        f"target: {q(target)}",
    ]
    if positive is not None:
        lines.append(f"positive_class: {q(positive)}   # the outcome the model scores; here the rarer class")
    lines += [
        "",
        "columns:",
        f"  id: {q(id_col)}" + ("            # identifier: never a feature" if id_col else ""),
        f"  {'' if len(dates) == 1 else '# '}time: {q(str(dates[0]) if dates else None)}"
        "    # set to split by time (holdout = latest rows)",
        "  group: null         # set to keep all rows of a group (e.g. a customer) on one side",
        f"  drop: {q(list(drop))}            # columns to leave out, e.g. ones only known after the outcome",
        "  categorical: []     # numeric codes to treat as categories",
        "",
        "# Success criteria agreed with the client, judged on the untouched holdout.",
        "criteria:",
        f"  - {_DEFAULT_CRITERIA[task]}",
        "",
        "# Money per decision outcome (negative = a loss); the optimize gate picks the threshold from it.",
        "value:",
        "  currency: EUR",
        "  true_positive: 0.0",
        "  false_positive: -1.0",
        "  false_negative: -1.0",
        "  true_negative: 0.0",
        "  decisions_per_month: null",
        "",
        "split:",
        "  holdout: 0.2        # share set aside, scored once at the end",
        "  folds: 5",
        "  seed: 42",
        "",
        "budget:               # seconds",
        "  prove: 60",
        "  optimize: 300",
        "",
        "# What `poc2prod monitor` measures per window of served predictions, and when it alerts.",
        "monitoring:",
        "  window: 1d           # 30m, 12h, 1d, 2w",
        "  psi_alert: 0.2       # a feature's population stability index above this",
        "  score_psi_alert: 0.2 # the same for the model's scores",
        "  flagged_alert: 0.05  # share of rows flagged (unseen, out of range) or refused (422)",
        "  min_labels: 100      # labelled rows a window needs before the criteria are judged on it",
        "  webhook: null        # a URL that receives the alerts as JSON, e.g. a chat or pager hook",
    ]
    return "\n".join(lines) + "\n"


def _relative_source(data: Path, root: Path) -> str:
    if not data.is_file():
        raise DataError(f"data file {data} does not exist; check the path given to --data.")
    # Inside the project: relative, so the folder can move; elsewhere: absolute, so it stays found.
    try:
        return str(data.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(data.resolve())


def _copy_example(root: Path, example: str, force: bool) -> Path:
    if example not in EXAMPLES:
        raise ProjectError(f"unknown example {example!r}; choose one of: {', '.join(EXAMPLES)}.")
    src = resources.files("poc2prod") / "examples" / EXAMPLES[example]
    root.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name.startswith(("_", ".")):
            continue
        dest = root / item.name
        if dest.exists() and not force:
            raise ProjectError(f"{dest} already exists; pass --force to overwrite it.")
        with resources.as_file(item) as path:
            shutil.copyfile(path, dest)
    return root / SPEC_FILE
