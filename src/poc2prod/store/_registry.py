"""The model registry: versions of a project's deployed model, and the ``champion`` alias.

It is MLflow's registry on the project's tracking store. A version's source is a deploy run,
whose artifacts are the *bundle*: the fitted model, the frozen schema, the serving settings and
the training reference statistics. The model file's SHA-256 is recorded on the version, and
:func:`load_bundle` checks it before anything is deserialised.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poc2prod._io import sha256_file
from poc2prod.errors import ProjectError
from poc2prod.store._tracking import _client, _first_line

CHAMPION = "champion"
CHALLENGER = "challenger"  # a registered version that shadows the champion (serve --shadow)
BUNDLE_FILES = ("bundle.json", "schema.json", "reference.json")


@dataclass(frozen=True)
class Version:
    """One registered version of a project's model."""

    version: int
    run_id: str
    aliases: tuple[str, ...]
    created: int  # milliseconds since the epoch
    tags: dict[str, str]

    @property
    def champion(self) -> bool:
        """Whether the ``champion`` alias points here."""
        return CHAMPION in self.aliases

    def metrics(self) -> dict[str, float]:
        """The holdout metrics recorded with the version."""
        prefix = "poc2prod.holdout."
        # A tag name cannot hold "@" (recall@10), so deploy writes it as "_at_".
        return {
            k.removeprefix(prefix).replace("_at_", "@"): float(v)
            for k, v in self.tags.items()
            if k.startswith(prefix)
        }


@dataclass
class Bundle:
    """A deployed model with everything needed to serve it."""

    name: str
    version: int
    model: Any
    settings: dict[str, Any]  # bundle.json: task, features, threshold, classes, value model...
    schema: dict[str, Any]
    reference: dict[str, Any]


def register(
    uri: str, name: str, run_id: str, *, sha256: str, tags: dict[str, str], alias: str = CHAMPION
) -> int:
    """Register the deploy run ``run_id`` as a new version of ``name`` and give it ``alias``
    (``champion``, or ``challenger`` for a model to shadow the champion)."""
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        client.get_registered_model(name)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # another process may have created it meanwhile
            client.create_registered_model(name, description=f"poc2prod project {name}")
    source = client.get_run(run_id).info.artifact_uri
    mv = client.create_model_version(
        name, source=source, run_id=run_id, tags={"poc2prod.model_sha256": sha256, **tags}
    )
    client.set_registered_model_alias(name, alias, mv.version)
    return int(mv.version)


def promote(uri: str, name: str, version: int) -> Version:
    """Point ``champion`` at an existing ``version`` (a rollback, or a roll forward)."""
    versions = {v.version: v for v in list_versions(uri, name)}
    if version not in versions:
        known = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise ProjectError(f"model {name!r} has no version {version} (versions: {known}); pick one of those.")
    _client(uri).set_registered_model_alias(name, CHAMPION, str(version))
    return list_version(uri, name, version)


def list_versions(uri: str, name: str) -> list[Version]:
    """Every version of ``name``, newest first (empty when nothing was deployed)."""
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        found = client.search_model_versions(f"name = '{name}'")
        aliases = client.get_registered_model(name).aliases
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []  # nothing deployed yet
        raise ProjectError(
            f"the model registry cannot be read ({_first_line(e)}); check tracking.uri."
        ) from None
    by_version: dict[str, list[str]] = {}
    for alias, v in aliases.items():
        by_version.setdefault(str(v), []).append(alias)
    out = [
        Version(
            version=int(mv.version),
            run_id=mv.run_id,
            aliases=tuple(sorted(by_version.get(str(mv.version), []))),
            created=int(mv.creation_timestamp or 0),
            tags=dict(mv.tags or {}),
        )
        for mv in found
    ]
    return sorted(out, key=lambda v: -v.version)


def list_version(uri: str, name: str, version: int) -> Version:
    """One version of ``name``."""
    return next(v for v in list_versions(uri, name) if v.version == version)


def resolve(uri: str, name: str, version: int | None = None, alias: str = CHAMPION) -> Version:
    """The version to serve: ``version`` if given, else the one with ``alias``."""
    versions = list_versions(uri, name)
    if not versions:
        raise ProjectError(f"nothing is deployed for {name!r} yet; run `poc2prod deploy` first.")
    if version is not None:
        match = [v for v in versions if v.version == version]
        if not match:
            known = ", ".join(str(v.version) for v in versions)
            raise ProjectError(
                f"model {name!r} has no version {version} (versions: {known}); pick one of those."
            )
        return match[0]
    found = [v for v in versions if alias in v.aliases]
    if not found:
        if alias != CHAMPION:
            raise ProjectError(
                f"no version of {name!r} is {alias}; "
                "`poc2prod retrain` registers one when it keeps the champion."
            )
        raise ProjectError(f"no version of {name!r} is champion; run `poc2prod deploy --version N`.")
    return found[0]


def load_bundle(uri: str, name: str, version: int | None = None, alias: str = CHAMPION) -> Bundle:
    """The model and serving settings of a version, its model checked against the recorded SHA-256
    before it is deserialised."""
    import joblib

    v = resolve(uri, name, version, alias)
    expected = v.tags.get("poc2prod.model_sha256")
    client = _client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model_path = Path(client.download_artifacts(v.run_id, "model/model.joblib", tmp))
            docs = {
                f: json.loads(Path(client.download_artifacts(v.run_id, f, tmp)).read_text())
                for f in BUNDLE_FILES
            }
        except Exception as e:
            raise ProjectError(
                f"version {v.version} of {name!r} cannot be read ({_first_line(e)}); "
                "deploy again or roll back with `poc2prod deploy --version N`."
            ) from None
        if not expected or sha256_file(model_path) != expected:
            raise ProjectError(
                f"the model file of version {v.version} of {name!r} does not match the SHA-256 recorded "
                "in the registry, so it was not loaded; deploy again or roll back to another version."
            )
        model = joblib.load(model_path)
    return Bundle(name, v.version, model, docs["bundle.json"], docs["schema.json"], docs["reference.json"])
