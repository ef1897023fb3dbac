"""Keeping secrets out of what poc2prod writes: runs, reports, results and messages.

A database URL keeps its host and database but not its password; a webhook URL keeps its host but
not its path or query, which services such as Slack's make the secret.

>>> redact("postgresql://me:pw@db:5432/mlflow")
'postgresql://me:***@db:5432/mlflow'
>>> redact("https://hooks.example.com/services/T0/B0/XyZ?token=1")
'https://hooks.example.com/***'
"""

from __future__ import annotations

from typing import Any


def redact(url: str) -> str:
    """``url`` fit for a run, a report or a message (see the module's docstring)."""
    from urllib.parse import urlsplit

    if "://" not in url:
        return url  # a file path holds no secret
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}/***"
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def public_spec(spec) -> dict[str, Any]:
    """The spec as a run records it: every URL in it redacted."""
    doc = spec.model_dump(mode="json")
    urls = [("data", "source"), ("newer", "source"), ("tracking", "uri"), ("tracking", "studies")]
    for section, key in [*urls, ("monitoring", "webhook")]:
        if isinstance(doc.get(section), dict) and isinstance(doc[section].get(key), str):
            doc[section][key] = redact(doc[section][key])
    return doc
