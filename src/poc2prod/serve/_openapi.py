"""The service's OpenAPI document, generated from the deployed version's frozen schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poc2prod.serve._predictor import Predictor

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer"},
                    "field": {"type": "string"},
                    "problem": {"type": "string"},
                },
            },
        },
    },
    "required": ["error"],
}


def _field(col: dict[str, Any]) -> dict[str, Any]:
    if col["kind"] in ("numeric", "boolean"):
        out: dict[str, Any] = {"type": ["number", "null"]}
        if col.get("min") is not None:
            out["description"] = (
                f"training range {col['min']:g} to {col['max']:g} (outside it is scored and flagged)"
            )
        return out
    if col["kind"] == "text":
        return {"type": ["string", "null"], "description": "free text"}
    cats = col.get("categories") or []
    return {
        "type": ["string", "number", "boolean", "null"],
        "description": "a category; unseen ones are scored as missing and flagged"
        + (f"; known: {', '.join(cats[:20])}{' ...' if len(cats) > 20 else ''}" if cats else ""),
        "examples": cats[:3],
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``content`` of a JSON request or response body with ``schema``."""
    return {"application/json": {"schema": schema}}


def document(p: Predictor) -> dict[str, Any]:
    """OpenAPI 3.1 for ``/predict``, ``/feedback``, ``/health``, ``/ready`` and ``/metrics``."""
    columns = {c["name"]: c for c in p._columns}
    row = {
        "type": "object",
        "properties": {name: _field(columns[name]) for name in p.features},
        "required": list(p.features),
    }
    if p.task == "binary":
        answer = {
            "score": {"type": "number", "description": "P(positive class)"},
            "decision": {"description": f"the positive class when score >= {p.threshold:g}"},
            "positive": {"type": "boolean"},
        }
    elif p.scenario == "text-intent":
        answer = {
            "label": {"description": "the intent"},
            "confidence": {"type": "number", "description": "P(intent)"},
            "routed": {"type": "boolean", "description": f"confidence < {p.threshold:g}: for a person"},
            "alternatives": {"type": "array", "items": {"type": "object"}},
            "answer": {"type": ["string", "null"], "description": "the intent's answer template"},
            "similar": {"type": "array", "items": {"type": "object"}, "description": "when routed"},
        }
    elif p.task == "multiclass":
        answer = {"label": {}, "probabilities": {"type": "object"}}
    else:
        answer = {"prediction": {"type": "number"}}
    answer["flags"] = {"type": "array", "items": {"type": "string"}}
    answer["reasons"] = {"type": "array", "items": {"type": "object"}}
    errors = {
        str(code): {"description": text, "content": _json(_ERROR)}
        for code, text in (
            (400, "not JSON"),
            (401, "API key missing or wrong"),
            (413, "body too large"),
            (422, "a row does not match the schema"),
        )
    }
    ok = {"description": "ok", "content": _json({"type": "object"})}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{p.name} prediction service", "version": str(p.version)},
        "components": {
            "schemas": {"Row": row, "Answer": {"type": "object", "properties": answer}, "Error": _ERROR},
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        "paths": {
            "/predict": {
                "post": {
                    "summary": "Score rows",
                    "parameters": [
                        {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "rows": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Row"},
                                        "minItems": 1,
                                    }
                                },
                                "required": ["rows"],
                            }
                        ),
                    },
                    "responses": {
                        "200": {
                            "description": "one answer per row",
                            "content": _json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "request_id": {"type": "string"},
                                        "version": {"type": "integer"},
                                        "predictions": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Answer"},
                                        },
                                    },
                                }
                            ),
                        },
                        **errors,
                    },
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Record late ground-truth labels by request id",
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "request_id": {"type": "string"},
                                    "row": {"type": "integer", "minimum": 0},
                                    "label": {},
                                },
                                "required": ["request_id", "label"],
                            }
                        ),
                    },
                    "responses": {"200": ok, **errors},
                }
            },
            "/health": {"get": {"summary": "Liveness", "responses": {"200": ok}}},
            "/ready": {
                "get": {
                    "summary": "Model loaded",
                    "responses": {"200": ok, "503": {"description": "loading"}},
                }
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}
            },
        },
        "security": [{"apiKey": []}],
    }
