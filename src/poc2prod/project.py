"""The Project: one folder with a ``poc2prod.yaml``, and the facade both the CLI and Python use.

>>> from poc2prod import Project
>>> project = Project.init("demo", example="credit-risk")      # doctest: +SKIP
>>> result = project.prove(budget=60)                            # doctest: +SKIP
>>> result.verdict                                               # doctest: +SKIP
'go'
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod._io import atomic_write
from poc2prod.errors import ProjectError
from poc2prod.spec import SPEC_FILE, Spec

if TYPE_CHECKING:
    from poc2prod.data import Schema, Split
    from poc2prod.gates import DeployResult, MonitorResult, OptimizeResult, ProveResult, RetrainResult
    from poc2prod.learn._race import Event
    from poc2prod.serve import Predictor, ScoreResult
    from poc2prod.store._registry import Version

STATE_DIR = ".poc2prod"
SCHEMA_FILE = "schema.json"


class Project:
    """A poc2prod project folder: its spec, frozen schema and split, and its tracked runs."""

    def __init__(self, root: Path, spec: Spec):
        self.root = Path(root)
        self.spec = spec

    @classmethod
    def load(cls, path: str | Path = ".") -> Project:
        """Open the project in ``path`` (a folder holding ``poc2prod.yaml``, or the file itself)."""
        path = Path(path)
        if path.is_dir():
            path = path / SPEC_FILE
        if not path.is_file():
            raise ProjectError(
                f"no {SPEC_FILE} in {path.parent}; create one with `poc2prod init {path.parent}`."
            )
        return cls(path.parent, Spec.load(path))

    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        data: str | Path | None = None,
        query: str | None = None,
        target: str | None = None,
        task: str | None = None,
        example: str | None = None,
        drop: Sequence[str] = (),
        force: bool = False,
        roles: dict[str, str | None] | None = None,
    ) -> Project:
        """Create a project in ``path`` from data and a target, or from a shipped example.

        ``data`` is a CSV or Parquet file, or an SQLAlchemy URL with ``query`` the SELECT to run.
        Without a ``target``, an interaction log makes a ``task: recommend`` project; ``roles``
        names its ``user``, ``item`` and ``time`` columns when their names do not say.
        """
        from poc2prod.scaffold import scaffold

        spec_path = scaffold(
            Path(path),
            data=data,
            query=query,
            target=target,
            task=task,
            example=example,
            drop=list(drop),
            force=force,
            roles=roles,
        )
        return cls.load(spec_path)

    # -- gates -------------------------------------------------------------------------------

    def prove(
        self,
        budget: float | None = None,
        *,
        models: Sequence[str] | None = None,
        seed: int | None = None,
        refreeze: bool = False,
        on_event: Event | None = None,
    ) -> ProveResult:
        """Race candidate models under ``budget`` seconds and judge the success criteria.

        Returns a :class:`~poc2prod.gates.ProveResult`; the run is recorded in the tracking store.
        ``models`` limits the race to those candidates (names as in the leaderboard);
        ``seed`` overrides ``split.seed``; ``refreeze`` re-infers the schema and redraws the holdout.
        """
        from poc2prod.gates import run_prove

        if seed is not None:
            self.spec = self.spec.model_copy(
                update={"split": self.spec.split.model_copy(update={"seed": seed})}
            )

        return run_prove(self, budget=budget, models=models, refreeze=refreeze, on_event=on_event)

    def optimize(
        self,
        budget: float | None = None,
        *,
        workers: int = 1,
        trials: int | None = None,
        on_event: Event | None = None,
        backend: str = "local",
        address: str | None = None,
        trial_cpus: int = 1,
    ) -> OptimizeResult:
        """Tune, engineer features, ensemble, calibrate and price the threshold, within ``budget`` seconds.

        Builds on the latest prove run (same data, folds and holdout) and compares against its
        model. ``workers`` processes share one Optuna study; ``trials`` stops the study once it
        holds that many finished trials (with one worker, the same trials every time). The study
        lives in ``tracking.studies`` (default ``.poc2prod/studies.db``), so an interrupted run
        resumes where it stopped. ``backend="ray"`` runs ``workers`` tuning tasks of ``trial_cpus``
        CPUs each on Ray (the cluster at ``address``, or a Ray instance started here). Returns a
        :class:`~poc2prod.gates.OptimizeResult`.
        """
        from poc2prod.gates import run_optimize

        return run_optimize(
            self,
            budget=budget,
            workers=workers,
            trials=trials,
            on_event=on_event,
            backend=backend,
            address=address,
            trial_cpus=trial_cpus,
        )

    def deploy(self, version: int | None = None, *, until: str | None = None) -> DeployResult:
        """Register the latest optimized (else proven) model as the new ``champion`` version, or,
        with ``version``, move ``champion`` to that version (a rollback). ``until`` (recommend
        only) fits the recommender on the interactions before that time, to replay what followed."""
        from poc2prod.gates import run_deploy

        return run_deploy(self, version=version, until=until)

    def models(self) -> list[Version]:
        """Registered versions of this project's model, newest first."""
        from poc2prod.store._registry import list_versions

        return list_versions(self.tracking_uri, self.spec.name)

    def monitor(self, window: str | None = None) -> MonitorResult:
        """Drift, flagged rows, performance and value realised per time window of the prediction
        log (``window`` such as ``"7d"``; the spec's ``monitoring.window`` by default)."""
        if self.spec.task == "recommend":
            from poc2prod.gates._monitor_recommend import run_monitor_recommend

            return run_monitor_recommend(self, window=window)
        from poc2prod.gates._monitor import run_monitor

        return run_monitor(self, window=window)

    def retrain(self, data: str | Path, *, window: float = 0.3) -> RetrainResult:
        """Fit a challenger with the champion's recipe on ``data`` (newer labelled rows) and make it
        champion only if it beats the champion beyond noise on the most recent ``window`` share."""
        if self.spec.task == "recommend":
            raise ProjectError(
                "retrain compares models on newer labelled rows; a recommender learns from its whole "
                "log, so append the new interactions to the data and run optimize and deploy again."
            )
        from poc2prod.gates._retrain import run_retrain

        return run_retrain(self, data, window=window)

    def report(self, out: str | Path | None = None) -> Path:
        """Write the customer-success report (one self-contained HTML file; default
        ``report.html`` in the project) and return its path."""
        from poc2prod.report import build_report

        path = Path(out) if out is not None else self.root / "report.html"
        atomic_write(path, build_report(self))
        return path

    def predictor(self, version: int | None = None, alias: str = "champion") -> Predictor:
        """The champion (or ``version``, or the version with ``alias``, such as ``challenger``)
        loaded from the registry, ready to validate and score rows (a ``RecommendPredictor``, ready
        to recommend, for ``task: recommend``)."""
        from poc2prod.serve import Predictor
        from poc2prod.store._registry import load_bundle

        bundle = load_bundle(self.tracking_uri, self.spec.name, version, alias)
        if bundle.settings["task"] == "recommend":
            from poc2prod.serve._recommend import RecommendPredictor

            return RecommendPredictor(bundle)
        return Predictor(bundle)

    def app(self, version: int | None = None, *, api_key: str | None = None, log: bool = True):
        """The prediction service as an ASGI app (Starlette), e.g. to mount in your own server."""
        from poc2prod.serve import ServiceConfig, create_app

        config = ServiceConfig(api_key=api_key, log_folder=str(self.log_folder) if log else None)
        return create_app(lambda: self.predictor(version), config)

    def score(
        self,
        source: str | Path | None,
        output: str | Path,
        *,
        version: int | None = None,
        k: int | None = None,
        on_progress=None,
    ) -> ScoreResult:
        """Score every row of ``source`` (CSV or Parquet) into ``output``, logging them like the service.

        For ``task: recommend``, write the top ``k`` of each user in ``source``'s user column (of
        every user the model knows when ``source`` is None), one row per user and rank.
        """
        predictor = self.predictor(version)
        # The client's files to score come from the same systems as the training data: same encoding.
        encoding = self.spec.data.encoding
        if predictor.task == "recommend":
            from poc2prod.serve._score_lists import score_users

            return score_users(
                predictor,
                None if source is None else Path(source),
                Path(output),
                user_column=self.spec.columns.user or "user",
                k=k,
                log_folder=self.log_folder,
                encoding=encoding,
                on_progress=on_progress,
            )
        if source is None:
            raise ProjectError("name the CSV or Parquet file of rows to score.")
        from poc2prod.serve import score_file

        return score_file(
            predictor,
            Path(source),
            Path(output),
            log_folder=self.log_folder,
            encoding=encoding,
            on_progress=on_progress,
        )

    # -- state the gates share ---------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        """The project's working folder (tracking database, artifacts, frozen split)."""
        path = self.root / STATE_DIR
        try:
            path.mkdir(exist_ok=True)
        except OSError as e:
            raise ProjectError(
                f"cannot write to {self.root} ({e.strerror}); make the folder writable."
            ) from None
        if not os.access(path, os.W_OK):
            raise ProjectError(f"cannot write to {path}; make the project folder writable.")
        return path

    @property
    def tracking_uri(self) -> str:
        """Where runs are tracked."""
        from poc2prod.store import tracking_uri

        return tracking_uri(self.state_dir, self.spec.tracking.uri)

    @property
    def studies_uri(self) -> str:
        """Where Optuna studies are stored (a separate SQLite file by default: Optuna and MLflow
        each keep their own schema version table, under the same name)."""
        return self.spec.tracking.studies or f"sqlite:///{(self.state_dir / 'studies.db').resolve()}"

    @property
    def log_folder(self) -> Path:
        """Where the prediction and feedback logs are appended."""
        return self.state_dir / "predictions"

    @property
    def artifact_root(self) -> Path:
        """Where run artifacts go when tracking is local."""
        return self.state_dir / "artifacts"

    def freeze_schema(self, frame: pd.DataFrame, *, refreeze: bool, notes: list[str]) -> Schema:
        """The frozen schema, inferred from ``frame`` and written on first use (or on ``refreeze``).

        A frozen schema whose roles no longer match the spec (a column newly dropped, a new id
        column) is re-inferred, since the spec is the user's stated intent.
        """
        from poc2prod.data import Schema, infer_schema

        path = self.root / SCHEMA_FILE
        if path.is_file() and not refreeze:
            frozen = Schema.read(path)
            if frozen.agrees_with(self.spec):
                return frozen
            notes.append("the spec's column roles or target changed, so the schema was frozen again")
        schema = infer_schema(frame, self.spec)
        self.state_dir  # noqa: B018 - fails early with a clear message when the folder is read-only
        schema.save(path)
        return schema

    def freeze_split(
        self, labelled: pd.DataFrame, y: np.ndarray, *, refreeze: bool, notes: list[str]
    ) -> Split:
        """The frozen holdout split, drawn on first use and redrawn only when the data changed."""
        from poc2prod.data import Split, fingerprint, make_split, split_kind

        s = self.spec.split
        fp = f"{fingerprint(labelled)}:{s.seed}:{s.holdout}:{split_kind(self.spec)}"
        frozen = None if refreeze else Split.read(self.state_dir)
        if frozen is not None and frozen.fingerprint == fp:
            return frozen
        if frozen is not None:
            notes.append(
                "the data or the split settings changed since the holdout was frozen, so a new "
                "holdout was drawn; earlier runs were judged on a different holdout"
            )
        split = make_split(labelled, y, self.spec, fp)
        split.save(self.state_dir)
        return split

    def remember(self, gate: str, document: dict[str, Any]) -> None:
        """Keep the latest result of ``gate`` in the project, for the next gate and the report."""
        atomic_write(self.state_dir / f"{gate}.json", json.dumps(document, indent=2, default=str))

    def last(self, gate: str) -> dict[str, Any] | None:
        """The latest result of ``gate`` in this project, or None if it never ran."""
        path = self.root / STATE_DIR / f"{gate}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r}, task={self.spec.task!r}, target={self.spec.target!r})"
