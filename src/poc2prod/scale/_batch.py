"""Batch scoring on Ray Data: many files read, scored in parallel, written as Parquet.

The input is a folder or a glob of Parquet or CSV files; Ray Data reads them in blocks and hands
them to scoring actors, each of which loads the registered model once and scores its blocks with
the service's validation and answers (:func:`poc2prod.serve._score.score_chunk`), appending the
scored rows to the prediction log in its own segment, as a serving process does. The output is a
folder of Parquet files, one row per input row, a refused row's problem in ``error``.
"""

from __future__ import annotations

import glob
import secrets
import time
from pathlib import Path

from poc2prod.errors import DataError
from poc2prod.scale._cluster import connect
from poc2prod.serve._score import ScoreResult


class _Scorer:
    """A Ray Data actor: the project's model, loaded once, scoring one block after another."""

    def __init__(self, root: str, version: int | None, batch_id: str, log: bool):
        from poc2prod.project import Project
        from poc2prod.store._predlog import LogWriter

        project = Project.load(root)
        self.predictor = project.predictor(version)
        self.log = LogWriter(project.log_folder, "predictions") if log else None
        self.batch_id = f"{batch_id}-{secrets.token_hex(3)}"  # one per actor: rows numbered per actor
        self.rows = 0

    def __call__(self, block):
        from poc2prod.serve._score import score_chunk

        out, _ = score_chunk(self.predictor, block.reset_index(drop=True), self.rows, self.log, self.batch_id)
        self.rows += len(block)
        if self.log is not None:
            self.log.sync()  # an actor is stopped without notice when the job ends
        import pyarrow as pa

        # The error column as text in every file, even one whose rows all passed (null-typed, it
        # would make the folder unreadable as one table).
        table = pa.Table.from_pandas(out, preserve_index=False)
        at = table.schema.get_field_index("error")
        return table.set_column(at, "error", table.column("error").cast(pa.string()))


def files_of(source: str) -> tuple[list[str], str]:
    """The files a folder or glob names, and their format (all Parquet, or all CSV)."""
    path = Path(source)
    pattern = str(path / "*") if path.is_dir() else source
    files = sorted(f for f in glob.glob(pattern) if f.lower().endswith((".parquet", ".csv")))
    if not files:
        raise DataError(
            f"{source} holds no .parquet or .csv file; give a folder or a glob such as 'in/*.parquet'."
        )
    kinds = {Path(f).suffix.lower() for f in files}
    if len(kinds) > 1:
        raise DataError(f"{source} mixes CSV and Parquet files; score each kind on its own.")
    return files, kinds.pop()


def score_on_ray(
    project,
    source: str,
    output: Path,
    *,
    version: int | None,
    address: str | None,
    actors: int | None = None,
    log: bool = True,
) -> ScoreResult:
    """Score every row of the files ``source`` names into Parquet files in the folder ``output``."""
    started = time.monotonic()
    files, kind = files_of(source)
    predictor = project.predictor(version)  # one sentence here if nothing is deployed
    if predictor.task == "recommend":
        raise DataError("score --backend ray scores rows; a recommender's lists are one job: --all-users.")
    ray = connect(address)
    import pyarrow.parquet as pq

    from poc2prod.serve._score import check_columns

    first = pq.read_schema(files[0]).names if kind == ".parquet" else _csv_header(files[0])
    check_columns(predictor, _empty(first), files[0])
    if kind == ".parquet":
        # Ray Data's newer Parquet path (the default from 2.5x) first lists the files in a task of
        # one CPU that no option reaches; with the scoring actors holding every CPU it waits
        # forever. The previous reader plans on the driver and reads at the CPUs given below.
        ray.data.DataContext.get_current().use_datasource_v2 = False
        read = ray.data.read_parquet
    else:
        import pyarrow as pa
        from pyarrow import csv

        # Every CSV column as text, typed by the scorer row by row as the service types JSON: left
        # to itself, the reader types each file on its own and then makes them agree, which turned
        # one file's "lots" in a numeric column into a missing value rather than a refused row.
        text = csv.ConvertOptions(column_types=dict.fromkeys(first, pa.string()), strings_can_be_null=True)

        encoding = csv.ReadOptions(encoding=project.spec.data.encoding)  # as the local score reads

        def read(paths, **options):
            return ray.data.read_csv(paths, convert_options=text, read_options=encoding, **options)

    n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    batch_id = f"batch-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise DataError(f"{output} already holds files; give an empty or new folder for the scored files.")
    output.mkdir(parents=True, exist_ok=True)
    # Reading and writing are light beside scoring; at no CPU of their own they never wait for a
    # CPU the scoring actors hold (with as many actors as CPUs, they would wait forever).
    scored = read(files, num_cpus=0).map_batches(
        _Scorer,
        fn_constructor_kwargs={
            "root": str(project.root.resolve()),
            "version": predictor.version,
            "batch_id": batch_id,
            "log": log,
        },
        batch_format="pandas",
        batch_size=None,  # a block at a time: blocks of two files may type a column differently
        compute=ray.data.ActorPoolStrategy(size=n),
        num_cpus=1,
    )
    scored.write_parquet(str(output), ray_remote_args={"num_cpus": 0})
    import pyarrow as pa

    errors = pa.chunked_array(
        [
            pq.read_table(f, columns=["error"]).column("error").cast(pa.string())
            for f in sorted(output.glob("*.parquet"))
        ]
    )
    refused = errors.drop_null()  # a row without an error was scored
    return ScoreResult(
        rows=len(errors),
        scored=len(errors) - len(refused),
        rejected=len(refused),
        first_problem=refused[0].as_py() if len(refused) else None,
        output=str(output),
        version=predictor.version,
        seconds=time.monotonic() - started,
        note=f"{len(files)} file(s) scored on Ray by {n} actor(s)",
    )


def _csv_header(path: str) -> list[str]:
    import pandas as pd

    return list(pd.read_csv(path, nrows=0).columns)


def _empty(columns: list[str]):
    import pandas as pd

    return pd.DataFrame(columns=columns)
