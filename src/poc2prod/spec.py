"""The project spec: what ``poc2prod.yaml`` may say, validated, with errors that name the line.

>>> spec = Spec.model_validate({"task": "binary", "target": "default",
...                             "data": {"source": "loans.csv"}, "criteria": ["roc_auc >= 0.75"]})
>>> spec.criteria[0].metric, spec.criteria[0].threshold
('roc_auc', 0.75)
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError
from pydantic import model_validator as _model_validator

from poc2prod.errors import SpecError
from poc2prod.metrics import METRICS, default_metrics

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Budget", "Columns", "Criterion", "DataSource", "Recommend", "Spec", "Split", "ValueModel"]

SPEC_FILE = "poc2prod.yaml"
Task = Literal["binary", "multiclass", "regression", "text-intent", "text-sentiment", "recommend"]
# A text task is a classification problem over text columns, plus what its scenario adds
# (intents: confidence routing and answers; sentiment: the label mix watched over time).
TEXT_TASKS = {"text-intent": "multiclass", "text-sentiment": "multiclass"}


class _Model(BaseModel):
    # An unknown key is almost always a typo: refuse it rather than silently ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True)


_CRITERION = re.compile(r"^\s*([a-z0-9_@]+)\s*(>=|<=|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


class Criterion(_Model):
    """One success criterion agreed with the client, such as ``roc_auc >= 0.75``."""

    metric: str
    op: Literal[">=", ">", "<=", "<"]
    threshold: float

    def passed(self, value: float) -> bool:
        """Whether ``value`` meets the criterion (a missing value never does)."""
        if value != value:  # NaN
            return False
        return {
            ">=": value >= self.threshold,
            ">": value > self.threshold,
            "<=": value <= self.threshold,
            "<": value < self.threshold,
        }[self.op]

    def margin(self, value: float) -> float:
        """How far ``value`` is on the good side of the threshold (negative: short of it)."""
        return value - self.threshold if self.op in (">=", ">") else self.threshold - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def _parse_criterion(v: Any) -> Any:
    if isinstance(v, str):
        m = _CRITERION.match(v)
        if not m:
            raise ValueError(
                f"criterion {v!r} is not of the form 'metric >= number' (e.g. 'roc_auc >= 0.75')"
            )
        name, op, num = m.groups()
        if name not in METRICS and not _ranking_metric(name):
            raise ValueError(
                f"unknown metric {name!r}; known metrics: {', '.join(METRICS)}, and for "
                "task: recommend recall@k, precision@k, ndcg@k, map@k, hit_rate@k, coverage@k, novelty@k"
            )
        return {"metric": name, "op": op, "threshold": float(num)}
    return v


def _ranking_metric(name: str) -> bool:
    """Whether ``name`` is a recommendation metric such as ``recall@10``."""
    from poc2prod.recommend._metrics import parse_metric

    try:
        parse_metric(name)
    except ValueError:
        return False
    return True


CriterionField = Annotated[Criterion, BeforeValidator(_parse_criterion), PlainSerializer(str)]


class DataSource(_Model):
    """Where the data comes from: a CSV or Parquet file, or a SQL query on an SQLAlchemy URL."""

    source: str = Field(description="file path (relative to the project) or SQLAlchemy URL")
    query: str | None = Field(None, description="SQL query, when source is a database URL")
    format: Literal["auto", "csv", "parquet", "sql"] = "auto"
    sep: str | None = Field(None, description="CSV delimiter; detected when not given")
    encoding: str = "utf-8"

    @property
    def kind(self) -> Literal["csv", "parquet", "sql"]:
        """The reader to use, from ``format`` or guessed from the source."""
        if self.format != "auto":
            return self.format
        if "://" in self.source:
            return "sql"
        suffix = Path(self.source).suffix.lower()
        return "parquet" if suffix in (".parquet", ".pq") else "csv"

    @_model_validator(mode="after")
    def _query_with_sql(self) -> DataSource:
        if self.kind == "sql" and not self.query:
            raise ValueError("a database source needs `query:` (the SELECT that returns the rows)")
        return self


class Columns(_Model):
    """Roles of columns besides the target; every other column is a feature."""

    id: str | None = None
    time: str | None = None
    group: str | None = None
    drop: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list, description="free-text columns (queries, posts)")
    user: str | None = Field(None, description="recommend: who interacted")
    item: str | None = Field(None, description="recommend: with what")
    weight: str | None = Field(None, description="recommend: how much (a quantity, a rating); 1 if absent")

    def named(self) -> dict[str, str]:
        """Every column the spec names, mapped to the key that names it."""
        out = {c: k for k in ("id", "time", "group", "user", "item", "weight") if (c := getattr(self, k))}
        for key in ("drop", "categorical", "numeric", "text"):
            out.update({c: key for c in getattr(self, key)})
        return out


class ValueModel(_Model):
    """Money per decision outcome (positive = earned, negative = lost), in ``currency``.

    A binary task prices the four outcomes of a yes / no decision; a ``text-intent`` task prices
    what happens to a query: answered automatically and right, answered automatically and wrong,
    or routed to a person because the model was not confident enough. A ``recommend`` task prices
    an accepted recommendation (one the user buys): ``accepted`` money each, plus ``margin`` (a
    share, e.g. 0.3) of the item's price when the spec names a price column.
    """

    currency: str = "EUR"
    true_positive: float = 0.0
    false_positive: float = 0.0
    false_negative: float = 0.0
    true_negative: float = 0.0
    automated_correct: float = 0.0
    automated_wrong: float = 0.0
    routed: float = 0.0
    accepted: float = 0.0
    margin: float = Field(0.0, ge=0.0, le=1.0)
    decisions_per_month: int | None = Field(None, ge=0)

    @property
    def prices_routing(self) -> bool:
        """Whether the intent outcomes carry money (else the routing threshold has nothing to weigh)."""
        return any((self.automated_correct, self.automated_wrong, self.routed))

    def per_accepted(self, prices: np.ndarray | None, n_items: int) -> np.ndarray | None:
        """What an accepted recommendation of each item earns (None when nothing is priced)."""
        import numpy as np

        if not self.accepted and not (self.margin and prices is not None):
            return None
        earned = np.full(n_items, float(self.accepted))
        return earned + self.margin * prices if prices is not None else earned


class Recommend(_Model):
    """What a recommendation project cleans out of its log, and how many items it recommends."""

    k: int = Field(10, ge=1, le=1000, description="items per recommendation")
    invoice: str | None = Field(
        None, description="invoice column; invoices starting with C are cancellations"
    )
    price: str | None = Field(None, description="price column; rows without a positive price are dropped")
    description: str | None = Field(None, description="item name column, shown beside each recommendation")
    non_products: list[str] = Field(default_factory=list, description="item codes that are not products")


class Split(_Model):
    """How data is divided: a final holdout set aside, then k-fold cross-validation."""

    holdout: float = Field(0.2, gt=0.0, lt=0.9)
    folds: int = Field(5, ge=2, le=20)
    seed: int = 42


class Budget(_Model):
    """Time budgets in seconds, per gate."""

    prove: float = Field(60.0, gt=0)
    optimize: float = Field(300.0, gt=0)


class Tracking(_Model):
    """Where runs go; by default an SQLite database and an artifact folder in the project."""

    uri: str | None = None
    studies: str | None = Field(
        None, description="SQLAlchemy URL of the Optuna studies (default: .poc2prod/studies.db)"
    )


class Monitoring(_Model):
    """How the monitor gate cuts time and when it raises an alert."""

    window: str = Field("1d", pattern=r"^\d+(\.\d+)?[mhdw]$", description="window length: 30m, 12h, 1d, 2w")
    psi_alert: float = Field(0.2, gt=0, description="alert when a feature's PSI exceeds this")
    score_psi_alert: float = Field(
        0.2, gt=0, description="alert when the score distribution's PSI exceeds this"
    )
    flagged_alert: float = Field(
        0.05, ge=0, le=1, description="alert when this share of rows is flagged (or refused)"
    )
    min_labels: int = Field(100, ge=1, description="labelled rows a window needs before its criteria count")
    attribution: str = Field(
        "30d",
        pattern=r"^\d+(\.\d+)?[mhdw]$",
        description="recommend: a purchase counts as an accepted recommendation within this time of the list",
    )
    webhook: str | None = Field(
        None, pattern=r"^https?://", description="URL that receives the alerts as JSON (POST), if any"
    )


class Spec(_Model):
    """The whole of ``poc2prod.yaml``."""

    name: str = "project"
    task: Task
    data: DataSource
    newer: DataSource | None = Field(None, description="later labelled data, to check a model on")
    target: str | None = None
    positive_class: str | int | float | bool | None = None
    columns: Columns = Field(default_factory=Columns)
    answers: str | None = Field(
        None, description="text-intent: CSV of answer templates (columns intent, answer), relative path"
    )
    criteria: Annotated[list[CriterionField], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )
    primary_metric: str | None = None
    threshold: float = Field(0.5, gt=0, lt=1)
    value: ValueModel = Field(default_factory=ValueModel)
    split: Split = Field(default_factory=Split)
    budget: Budget = Field(default_factory=Budget)
    tracking: Tracking = Field(default_factory=Tracking)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    recommend: Recommend = Field(default_factory=Recommend)

    @_model_validator(mode="after")
    def _consistent(self) -> Spec:
        if self.task == "recommend":
            return self._recommend_consistent()
        if self.target is None:
            raise ValueError("required key 'target' is missing; add it (the column to predict)")
        for c in self.criteria:
            if c.metric not in METRICS:
                raise ValueError(f"metric {c.metric!r} in criteria applies to task: recommend only")
            if self.problem not in METRICS[c.metric].tasks:
                raise ValueError(f"metric {c.metric!r} in criteria does not apply to a {self.task} task")
        if self.primary_metric is not None:
            if self.primary_metric not in METRICS:
                raise ValueError(f"unknown primary_metric {self.primary_metric!r}")
            if self.problem not in METRICS[self.primary_metric].tasks:
                raise ValueError(
                    f"primary_metric {self.primary_metric!r} does not apply to a {self.task} task"
                )
        roles = self.columns.named()
        if self.target in roles:
            raise ValueError(f"the target {self.target!r} is also listed under columns.{roles[self.target]}")
        if self.answers is not None and self.task != "text-intent":
            raise ValueError("answers: applies to task: text-intent only; remove it")
        return self

    def _recommend_consistent(self) -> Spec:
        missing = [k for k in ("user", "item", "time") if getattr(self.columns, k) is None]
        if missing:
            raise ValueError(
                f"task: recommend needs columns.{missing[0]} (the column of "
                + {"user": "who interacted", "item": "what they interacted with", "time": "when"}[missing[0]]
                + ")"
            )
        for c in self.criteria:
            if not _ranking_metric(c.metric):
                raise ValueError(
                    f"metric {c.metric!r} does not rank recommendations; use e.g. recall@10 or ndcg@10"
                )
        if self.value.margin and not self.recommend.price:
            raise ValueError(
                "value.margin is a share of each item's price, but recommend.price names no price "
                "column; name it, or price an accepted recommendation with value.accepted"
            )
        return self

    @property
    def problem(self) -> Literal["binary", "multiclass", "regression", "recommend"]:
        """The learning problem behind the task: a text task is a classification over text; recommend
        is its own."""
        return TEXT_TASKS.get(self.task, self.task)  # type: ignore[return-value]

    @property
    def is_text(self) -> bool:
        """Whether this is a text task (its models learn from the text columns)."""
        return self.task in TEXT_TASKS

    @property
    def primary(self) -> str:
        """The metric that ranks candidates: the spec's, else the first criterion's, else the task default."""
        if self.primary_metric:
            return self.primary_metric
        if self.criteria:
            return self.criteria[0].metric
        if self.task == "recommend":
            return f"recall@{self.recommend.k}"
        return default_metrics(self.problem)[0]

    def report_metrics(self) -> list[str]:
        """The primary metric, the criteria metrics and the task's standard set, without repeats."""
        if self.task == "recommend":
            k = self.recommend.k
            standard = [f"{m}@{k}" for m in ("recall", "ndcg", "map", "hit_rate", "coverage", "novelty")]
        else:
            standard = default_metrics(self.problem)
        names = [self.primary, *(c.metric for c in self.criteria), *standard]
        return list(dict.fromkeys(names))

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        """Read and validate a spec file; every problem is a :class:`SpecError` naming its line."""
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"{path} does not exist; create it with `poc2prod init`.")
        text = path.read_text(encoding="utf-8")
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = SPEC_FILE) -> Spec:
        """Validate a spec from YAML text."""
        try:
            root = yaml.compose(text)
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SpecError(f"{source}{where} is not valid YAML ({problem}); fix that line.") from None
        if not isinstance(raw, dict):
            raise SpecError(f"{source} must be a mapping of keys such as task:, data:, target:.")
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            raise SpecError(_describe(e, root, source)) from None


def _describe(err: ValidationError, root: yaml.Node | None, source: str) -> str:
    # A typo shows up twice (an unknown key and a missing one); the unknown key is the one to name.
    first = min(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc = [p for p in first["loc"] if not isinstance(p, str) or "[" not in p]
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = _line_of(root, loc)
    where = f"{source} line {line}" if line else source
    if first["type"] == "extra_forbidden":
        known = {f for m in _Model.__subclasses__() for f in m.model_fields}
        close = difflib.get_close_matches(str(loc[-1]), sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: unknown key {key!r}{hint}; remove it or check its spelling."
    if first["type"] == "missing":
        return f"{where}: required key {key!r} is missing; add it."
    msg = first["msg"].removeprefix("Value error, ")
    return f"{where}: {key}: {msg}."


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """The 1-based line of the YAML node at ``loc``, or of its nearest existing parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            key_node = next((k for k, _ in node.value if k.value == part), None)
            if key_node is not None:
                line = key_node.start_mark.line + 1
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return line
