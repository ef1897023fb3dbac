"""The ``poc2prod`` command line: one command per gate, over the same Project facade as Python.

Heavy libraries are imported inside the commands so that ``poc2prod --help`` answers at once.
Exit status: 0 when the command did its job (whatever the verdict, unless ``--strict``), 1 for an
error the user can fix (one sentence on stderr), 2 for a usage error, 3 for a no-go under
``--strict``, 130 when interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="poc2prod",
    help="Take a machine-learning use case from proof of concept to a monitored production service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProjectDir = Annotated[Path, typer.Option("-C", "--project", help="Project folder (holding poc2prod.yaml).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]


BackendOption = Annotated[
    str, typer.Option(help="local (this machine) or ray (a Ray cluster; pip install 'poc2prod[ray]').")
]
AddressOption = Annotated[
    str | None,
    typer.Option(help="ray: the cluster (auto, or ray://host:10001); default: a Ray instance started here."),
]


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    data: Annotated[
        str | None, typer.Option(help="CSV or Parquet file, or an SQLAlchemy URL (with --query).")
    ] = None,
    query: Annotated[str | None, typer.Option(help="SELECT to run when --data is a database URL.")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict.")] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="binary, multiclass, regression, text-intent, text-sentiment or recommend "
            "(inferred if omitted)."
        ),
    ] = None,
    example: Annotated[
        str | None,
        typer.Option(
            help="Start from a shipped example: credit-risk, intents, sentiment, topics or recommend."
        ),
    ] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Column to leave out (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing poc2prod.yaml.")] = False,
    user: Annotated[str | None, typer.Option(help="recommend: the column of who interacted.")] = None,
    item: Annotated[str | None, typer.Option(help="recommend: the column of what with.")] = None,
    time_column: Annotated[str | None, typer.Option("--time", help="recommend: the column of when.")] = None,
) -> None:
    """Create a project: infer a commented poc2prod.yaml from the data (or copy an example). Without
    --target, a user × item interaction log makes a recommendation project."""
    from poc2prod.project import Project

    with _errors():
        project = Project.init(
            path,
            data=data,
            query=query,
            target=target,
            task=task,
            example=example,
            drop=drop or (),
            force=force,
            roles={"user": user, "item": item, "time": time_column},
        )
    spec = project.spec
    c = spec.columns
    what = (
        f"user [bold]{c.user}[/], item [bold]{c.item}[/], time [bold]{c.time}[/]"
        if spec.task == "recommend"
        else f"target [bold]{spec.target}[/]"
    )
    _err().print(
        f"[green]wrote[/] {project.root / 'poc2prod.yaml'}: task [bold]{spec.task}[/], {what}, "
        f"criteria {', '.join(map(str, spec.criteria))}"
    )
    _err().print(f"next: review it, then [bold]poc2prod prove -C {project.root}[/]")


@app.command()
def prove(
    project_dir: ProjectDir = Path("."),
    budget: Annotated[
        float | None, typer.Option(help="Seconds for the whole gate (default: budget.prove).")
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated candidates to race (default: all).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override split.seed.")] = None,
    refreeze: Annotated[bool, typer.Option(help="Re-infer the schema and redraw the holdout.")] = False,
    as_json: JsonFlag = False,
    strict: Annotated[bool, typer.Option(help="Exit with status 3 on a no-go verdict.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Race candidate models under a time budget and judge the success criteria: go or no-go."""
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        with _Progress(enabled=not quiet, budget=budget or project.spec.budget.prove) as progress:
            result = project.prove(
                budget=budget,
                models=[m.strip() for m in models.split(",")] if models else None,
                seed=seed,
                refreeze=refreeze,
                on_event=progress.event,
            )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        from poc2prod._ui import show_prove

        show_prove(result, project)
    if strict and result.verdict != "go":
        raise typer.Exit(3)


@app.command()
def optimize(
    project_dir: ProjectDir = Path("."),
    budget: Annotated[
        float | None, typer.Option(help="Seconds for the whole gate (default: budget.optimize).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes sharing one Optuna study.")] = 1,
    trials: Annotated[
        int | None, typer.Option(help="Stop once the study holds this many finished trials.")
    ] = None,
    backend: BackendOption = "local",
    address: AddressOption = None,
    trial_cpus: Annotated[int, typer.Option(help="ray: CPUs (and model threads) per tuning task.")] = 1,
    as_json: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Tune, engineer features, ensemble, calibrate, and choose the threshold that earns the most.

    With --backend ray, --workers tuning tasks of --trial-cpus CPUs each run on Ray."""
    from poc2prod.project import Project

    kept = "no run was recorded; the trials it finished stay in the study, and the next optimize resumes it."
    with _errors(interrupted=kept):
        project = Project.load(project_dir)
        with _Progress(enabled=not quiet, budget=budget or project.spec.budget.optimize) as progress:
            result = project.optimize(
                budget=budget,
                workers=workers,
                trials=trials,
                on_event=progress.event,
                backend=backend,
                address=address,
                trial_cpus=trial_cpus,
            )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        from poc2prod._ui import show_optimize

        show_optimize(result, project)


@app.command()
def deploy(
    project_dir: ProjectDir = Path("."),
    version: Annotated[
        int | None, typer.Option(help="Make this existing version champion (a rollback) instead.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="recommend: fit on the interactions before this time, to replay what followed."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register the optimized (else proven) model as a new version with the champion alias."""
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        result = project.deploy(version=version, until=until)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    verb = "registered" if result.action == "registered" else "moved champion to"
    was = f" (was {result.previous})" if result.previous is not None else ""
    _err().print(
        f"[green]{verb}[/] version [bold]{result.version}[/] of {result.name}{was}: {result.model_uri}",
        highlight=False,
    )
    _err().print(f"next: [bold]poc2prod serve -C {project.root}[/]")


@app.command()
def models(project_dir: ProjectDir = Path("."), as_json: JsonFlag = False) -> None:
    """List the registered versions with their metrics; the champion is marked."""
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        versions = project.models()
    if as_json:
        print(json.dumps([v.__dict__ | {"metrics": v.metrics()} for v in versions], indent=2, default=list))
        return
    from poc2prod._ui import show_models

    show_models(versions, project)


@app.command()
def monitor(
    project_dir: ProjectDir = Path("."),
    window: Annotated[
        str | None, typer.Option(help="Window length such as 12h, 7d or 2w (default: the spec's).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Drift, flagged rows, performance with late labels and value realised, per time window.

    Exits with status 3 when the latest window raises an alert, so that a scheduler notices.
    """
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        result = project.monitor(window)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        from poc2prod._ui import show_monitor

        show_monitor(result, project)
    if result.alerts:
        raise typer.Exit(3)


@app.command()
def retrain(
    project_dir: ProjectDir = Path("."),
    data: Annotated[Path, typer.Option("--data", "-d", help="Newer labelled rows (CSV or Parquet).")] = ...,
    window: Annotated[
        float, typer.Option(help="Share of the newest rows kept aside to compare the two models on.")
    ] = 0.3,
    as_json: JsonFlag = False,
) -> None:
    """Fit a challenger on newer data and promote it only if it beats the champion beyond noise."""
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        result = project.retrain(data, window=window)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    lo, hi = result.difference_interval
    _err().print(
        f"{result.metric} on the {result.window_rows:,} newest rows: champion (version "
        f"{result.champion_version}) {result.champion:.4f}, challenger {result.challenger:.4f} "
        f"(difference {lo:+.4f} to {hi:+.4f})",
        highlight=False,
    )
    if result.decision == "promoted":
        _err().print(
            f"[green]promoted[/]: version [bold]{result.new_version}[/] is champion", highlight=False
        )
    else:
        _err().print(f"[yellow]kept[/] the champion: {result.reason}", highlight=False)
        _err().print(
            f"the challenger is registered as version {result.new_version} (alias challenger): "
            f"[bold]poc2prod serve -C {project.root} --shadow[/] scores it beside the champion",
            highlight=False,
        )


@app.command()
def report(
    project_dir: ProjectDir = Path("."),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write it (default: report.html in the project)."),
    ] = None,
) -> None:
    """Write the customer-success report: one self-contained HTML page for the client."""
    from poc2prod.project import Project

    with _errors():
        path = Project.load(project_dir).report(out)
    _err().print(f"wrote {path}", highlight=False)


@app.command()
def serve(
    project_dir: ProjectDir = Path("."),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it on this machine.")] = (
        "127.0.0.1"
    ),
    workers: Annotated[int, typer.Option(help="Worker processes (model threads are shared out).")] = 1,
    version: Annotated[int | None, typer.Option(help="Serve this version instead of the champion.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="POC2PROD_API_KEY", help="Require this key in X-API-Key (or env POC2PROD_API_KEY)."
        ),
    ] = None,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 1 << 20,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not write the prediction log.")] = False,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Also score every row with the challenger, for the log only.")
    ] = False,
    backend: BackendOption = "local",
    address: AddressOption = None,
    replicas: Annotated[int, typer.Option(help="ray: replicas of the service (Ray Serve).")] = 2,
    autoscale: Annotated[
        str | None, typer.Option(help="ray: MIN-MAX replicas, scaled with the requests in flight.")
    ] = None,
) -> None:
    """Serve the champion over HTTP: /predict, /feedback, /health, /ready, /metrics, /openapi.json.

    With --backend ray, the same service runs as a Ray Serve deployment of --replicas replicas."""
    from poc2prod.project import Project
    from poc2prod.serve._run import run_server

    with _errors():
        project = Project.load(project_dir)
        if backend == "ray":
            _serve_on_ray(
                project,
                host,
                port,
                replicas,
                autoscale,
                version,
                api_key,
                max_body,
                not no_log,
                shadow,
                address,
            )
            return
        if backend != "local":
            raise _usage(f"--backend {backend!r} is not known; use local or ray")
        if workers < 1:
            raise _usage("--workers must be at least 1")
        _err().print(
            f"serving {project.spec.name} on http://{host}:{port} with {workers} worker(s)"
            f"{' (API key required)' if api_key else ''}{' (challenger in shadow)' if shadow else ''}; "
            "Ctrl-C to stop",
            highlight=False,
        )
        run_server(
            project,
            host=host,
            port=port,
            workers=workers,
            version=version,
            api_key=api_key,
            max_body=max_body,
            log=not no_log,
            shadow=shadow,
        )


@app.command()
def score(
    project_dir: ProjectDir = Path("."),
    input: Annotated[
        Path, typer.Option("--input", "-i", help="CSV or Parquet file of rows to score.")
    ] = Path("-"),
    output: Annotated[Path, typer.Option("--output", "-o", help="Parquet (or .csv) file to write.")] = Path(
        "scored.parquet"
    ),
    version: Annotated[
        int | None, typer.Option(help="Score with this version instead of the champion.")
    ] = None,
    all_users: Annotated[
        bool, typer.Option("--all-users", help="recommend: lists for every user the model knows.")
    ] = False,
    k: Annotated[int | None, typer.Option(help="recommend: items per user (default: the spec's).")] = None,
    backend: BackendOption = "local",
    address: AddressOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a file with the champion, with the service's validation and prediction log (for a
    recommender: the lists of the users in a file, or of all users).

    With --backend ray, --input is a folder or glob of files, scored by Ray Data into the folder
    --output."""
    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        if backend == "ray":
            from poc2prod.scale._batch import score_on_ray

            if str(input) == "-":
                raise _usage("--input is required: a folder or a glob of Parquet or CSV files")
            result = score_on_ray(project, str(input), output, version=version, address=address)
            _show_scored(result, project, as_json)
            return
        if backend != "local":
            raise _usage(f"--backend {backend!r} is not known; use local or ray")
        if str(input) == "-" and not all_users:
            raise _usage(
                "--input is required: the CSV or Parquet file to score"
                + (" (or --all-users)" if project.spec.task == "recommend" else "")
            )
        source = None if all_users else input
        with _Progress(enabled=not as_json, budget=1.0, unit="rows") as progress:
            result = project.score(source, output, version=version, k=k, on_progress=progress.rows)
    _show_scored(result, project, as_json)


def _show_scored(result, project, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    what = "users' lists" if project.spec.task == "recommend" else "rows"
    _err().print(
        f"scored [bold]{result.scored:,}[/] of {result.rows:,} {what} with version {result.version} "
        f"in {result.seconds:.1f}s → {result.output}",
        highlight=False,
    )
    if result.rejected:
        _err().print(
            f"[yellow]{result.rejected:,} rows rejected[/] (first: {result.first_problem})", highlight=False
        )
    if result.note:
        _err().print(f"[cyan]note:[/] {result.note}", highlight=False)


def _serve_on_ray(project, host, port, replicas, autoscale, version, api_key, max_body, log, shadow, address):
    from poc2prod.scale._serve import serve_on_ray
    from poc2prod.serve._run import service_env

    bounds = None
    if autoscale:
        try:
            low, high = (int(x) for x in autoscale.split("-"))
        except ValueError:
            raise _usage(f"--autoscale {autoscale!r} is not MIN-MAX, such as 1-4") from None
        if not 1 <= low <= high:
            raise _usage(f"--autoscale {autoscale!r}: MIN must be at least 1 and at most MAX")
        bounds = (low, high)
    elif replicas < 1:
        raise _usage("--replicas must be at least 1")
    env = service_env(
        project,
        port=port,
        workers=bounds[1] if bounds else replicas,
        version=version,
        api_key=api_key,
        max_body=max_body,
        log=log,
        shadow=shadow,
    )
    _err().print(
        f"serving {project.spec.name} on Ray Serve at http://{host}:{port} with "
        f"{f'{bounds[0]} to {bounds[1]}' if bounds else replicas} replica(s); Ctrl-C to stop",
        highlight=False,
    )
    serve_on_ray(project, host=host, port=port, replicas=replicas, autoscale=bounds, env=env, address=address)


cluster = typer.Typer(help="The Ray cluster the --backend ray commands run on.", no_args_is_help=True)
app.add_typer(cluster, name="cluster")


@cluster.command("status")
def cluster_status(
    address: Annotated[str, typer.Option(help="The cluster: auto, or ray://host:10001.")] = "auto",
    as_json: JsonFlag = False,
) -> None:
    """What the Ray cluster at --address has: its nodes, CPUs, memory, and what is free now."""
    from poc2prod.scale import cluster_status as status

    with _errors():
        doc = status(address)
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    say = _err().print
    say(
        f"Ray {doc['ray_version']} at [bold]{doc['address']}[/]: {len(doc['nodes'])} node(s), "
        f"{doc['cpus']:g} CPUs ({doc['cpus_free']:g} free), {doc['memory_gb']:g} GB memory, "
        f"{doc['object_store_gb']:g} GB object store",
        highlight=False,
    )
    for n in doc["nodes"]:
        say(
            f"  {n['node']}{' (head)' if n['head'] else ''}: {n['cpus']:g} CPUs, {n['gpus']:g} GPUs, "
            f"{n['memory_gb']:g} GB",
            highlight=False,
        )


_DEMOS = {
    "credit-risk": "German credit, 1,000 applicants",
    "intents": "BANKING77, 13,083 customer queries in 77 intents",
    "sentiment": "financial news posts, 11,931 bearish / bullish / neutral",
    "recommend": "UCI Online Retail, 13 months of a retailer's invoices",
}


@app.command()
def demo(
    path: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path("demo"),
    example: Annotated[
        str, typer.Option(help="Shipped example: credit-risk, intents, sentiment or recommend.")
    ] = "credit-risk",
    budget: Annotated[float, typer.Option(help="Seconds for the prove gate.")] = 60,
    optimize_budget: Annotated[float, typer.Option(help="Seconds for the optimize gate.")] = 90,
) -> None:
    """Run every gate end to end on a shipped example (credit risk by default): prove, optimize,
    deploy, a real service with traffic and late labels, monitor, retrain, and the report."""
    from poc2prod._demo import backtest_cut, newer_data, run_service_and_traffic
    from poc2prod._ui import show_monitor, show_optimize, show_prove
    from poc2prod.project import Project

    started = time.monotonic()
    say = _err().print
    with _errors():
        project = Project.init(path, example=example, force=True)
        say(f"[green]demo project[/] in {project.root}: {_DEMOS.get(example, example)}")
        question = (
            "can the past predict what each customer buys next?"
            if project.spec.task == "recommend"
            else f"can this data predict {project.spec.target} well enough?"
        )
        say(f"[bold]gate 1: prove[/] — {question}")
        with _Progress(enabled=True, budget=budget) as progress:
            proved = project.prove(budget=budget, refreeze=True, on_event=progress.event)
        show_prove(proved, project)
        say("\n[bold]gate 2: optimize[/] — how good can it get, and what is it worth?")
        with _Progress(enabled=True, budget=optimize_budget) as progress:
            optimized = project.optimize(budget=optimize_budget, on_event=progress.event)
        show_optimize(optimized, project)
        say("\n[bold]gate 3: deploy[/] — a versioned model behind a real HTTP service")
        recommend = project.spec.task == "recommend"
        until = backtest_cut(project) if recommend else None
        deployed = project.deploy(until=until)
        say(f"registered version {deployed.version} as champion: {deployed.model_uri}", highlight=False)
        if until:
            say(f"(a backtest: the model learnt only what came before {until}, so the replay is news to it)")
        traffic = run_service_and_traffic(project, lambda m: say(m, highlight=False))
        what = "lists" if recommend else "rows"
        back = "purchases" if recommend else "outcomes"
        say(
            f"served {traffic['rows']:,} {what} in {traffic['requests']:,} requests ({traffic['story']}); "
            f"{traffic['labels']:,} {back} came back through /feedback; service stopped",
            highlight=False,
        )
        say("\n[bold]gate 4: succeed[/] — is it still right, and what is it worth?")
        monitored = project.monitor("7d" if recommend else "1d")
        show_monitor(monitored, project)
        if recommend:
            say("retrain: a recommender is refitted on its whole log by optimize and deploy, not retrained")
        else:
            retrained = project.retrain(newer_data(project))
            say(f"retrain: the challenger was {retrained.decision}: {retrained.reason}", highlight=False)
        report = project.report()
    say(
        f"\n[green]done in {time.monotonic() - started:.0f} s.[/] Everything is in {project.root}:\n"
        f"  report for the client  {report}\n"
        f"  prediction log         {project.log_folder}\n"
        f"  tracked runs, registry [bold]poc2prod ui -C {project.root}[/] (MLflow UI)\n"
        f"  serve it again         [bold]poc2prod serve -C {project.root}[/]",
        highlight=False,
    )


@app.command()
def ui(
    project_dir: ProjectDir = Path("."),
    port: Annotated[int, typer.Option(help="Port to serve the MLflow UI on.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it on this machine.")] = (
        "127.0.0.1"
    ),
) -> None:
    """Browse the project's tracked runs in the MLflow UI."""
    import os

    from poc2prod.project import Project

    with _errors():
        project = Project.load(project_dir)
        uri = project.tracking_uri
    _err().print(f"MLflow UI for {project.root} on http://{host}:{port} (Ctrl-C to stop)")
    mlflow = Path(sys.executable).with_name("mlflow")
    os.execv(mlflow, [str(mlflow), "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)])


def main() -> None:
    """Entry point of the ``poc2prod`` script."""
    app()


# -- helpers -----------------------------------------------------------------------------------


def _err():
    from rich.console import Console

    return Console(stderr=True)


class _errors:
    """Turn a user error into one sentence and exit status 1, and Ctrl-C into status 130 with
    ``interrupted``: what the interruption kept."""

    def __init__(self, interrupted: str = "nothing from this run was recorded."):
        self.interrupted = interrupted

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        from poc2prod.errors import Poc2ProdError

        if exc is None:
            return False
        if isinstance(exc, Poc2ProdError):
            _err().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        if isinstance(exc, KeyboardInterrupt):
            _err().print(f"[yellow]interrupted[/]: {self.interrupted}", highlight=False, soft_wrap=True)
            raise typer.Exit(130)
        return False


def _usage(message: str):
    from poc2prod.errors import ProjectError

    return ProjectError(message + ".")


class _Progress:
    """A live display of a gate's progress on stderr, fed by the gate's events."""

    def __init__(self, enabled: bool, budget: float, unit: str = "seconds"):
        self.enabled = enabled
        self.budget = budget
        self.unit = unit

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.console = _err()
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn(f"of {self.budget:.0f}s budget" if self.unit == "seconds" else ""),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("starting", total=self.budget)
            import time

            self._t0, self._clock = time.monotonic(), time.monotonic
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.stop()

    def rows(self, done: int, total: int) -> None:
        """Progress of a job counted in rows."""
        if self.enabled:
            self.progress.update(
                self.task, total=total, completed=done, description=f"{done:,} of {total:,} rows"
            )

    def event(self, kind: str, info: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.progress.update(self.task, completed=min(self.budget, self._clock() - self._t0))
        if kind == "stage":
            self.progress.update(self.task, description=info["name"])
        elif kind == "candidate_start":
            self.progress.update(self.task, description=f"racing {info['name']}")
        elif kind == "fold_end":
            self.progress.update(
                self.task, description=f"racing {info['name']} fold {info['fold']}/{info['folds']}"
            )
        elif kind == "candidate_end":
            from poc2prod._ui import candidate_line

            self.progress.console.print(candidate_line(info["result"], info["primary"]), highlight=False)
        elif kind == "trial_end":
            from poc2prod._ui import trial_line

            self.progress.console.print(trial_line(info["trial"], info["primary"]), highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
