"""The service's OpenAPI document, generated from the deployed version's frozen schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poc2prod.serve._predictor import Predictor
    from poc2prod.serve._recommend import RecommendPredictor

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
    errors = _errors("a row does not match the schema")
    return _document(
        f"{p.name} prediction service",
        p.version,
        {"Row": row, "Answer": {"type": "object", "properties": answer}},
        {
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
                    "responses": {"200": _OK, **errors},
                }
            },
        },
    )


def _errors(unprocessable: str) -> dict[str, Any]:
    return {
        str(code): {"description": text, "content": _json(_ERROR)}
        for code, text in (
            (400, "not JSON"),
            (401, "API key missing or wrong"),
            (413, "body too large"),
            (422, unprocessable),
        )
    }


_OK = {"description": "ok", "content": _json({"type": "object"})}


def _document(title: str, version: int, schemas: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """The document around a service's own paths: the endpoints and parts every service shares."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": str(version)},
        "components": {
            "schemas": {**schemas, "Error": _ERROR},
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        "paths": {
            **paths,
            "/health": {"get": {"summary": "Liveness", "responses": {"200": _OK}}},
            "/ready": {
                "get": {
                    "summary": "Model loaded",
                    "responses": {"200": _OK, "503": {"description": "loading"}},
                }
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}
            },
        },
        "security": [{"apiKey": []}],
    }


def recommend_document(p: RecommendPredictor) -> dict[str, Any]:
    """OpenAPI 3.1 for ``GET /recommend/{user}``, ``POST /recommend``, ``POST /feedback`` and the rest."""
    errors = _errors("a user id, k or feedback event is not valid")
    item = {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "score": {"type": ["number", "null"], "description": "the model's score; higher is better"},
            "reasons": {"type": "array", "items": {"type": "object"}, "description": "with ?explain=true"},
        },
    }
    answer = {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "known": {"type": "boolean", "description": "false: no history, so the popular list"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        },
    }
    k = {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": p.k}}
    explain = {"name": "explain", "in": "query", "schema": {"type": "boolean"}}
    one = _json(
        {"type": "object", "properties": {"request_id": {"type": "string"}, "version": {"type": "integer"}}}
    )
    return _document(
        f"{p.name} recommendation service",
        p.version,
        {"Item": item, "Answer": answer},
        {
            "/recommend/{user}": {
                "get": {
                    "summary": "The top k items for one user, items she already has left out",
                    "parameters": [
                        {
                            "name": "user",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "example": p.example_user(),
                        },
                        k,
                        explain,
                    ],
                    "responses": {"200": {"description": "her list", "content": one}, **errors},
                }
            },
            "/recommend": {
                "post": {
                    "summary": "The top k items for each of several users",
                    "parameters": [explain],
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "users": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                    "k": {"type": "integer", "minimum": 1},
                                    "time": {
                                        "description": "when the lists are shown (epoch seconds or ISO 8601)"
                                    },
                                },
                                "required": ["users"],
                            }
                        ),
                    },
                    "responses": {"200": {"description": "one list per user", "content": one}, **errors},
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Record what users bought or clicked",
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "user": {"type": "string"},
                                    "item": {"type": "string"},
                                    "event": {"enum": ["purchase", "click"]},
                                    "request_id": {"type": "string"},
                                    "time": {},
                                },
                                "required": ["user", "item"],
                            }
                        ),
                    },
                    "responses": {"200": _OK, **errors},
                }
            },
        },
    )
