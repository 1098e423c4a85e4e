"""The contract as openapi.yaml commits it: FastAPI's document, completed with what the
middleware and the database may answer on any operation, the Problem schema and the response
headers, and written as stable YAML."""

from collections.abc import Sequence
from typing import Any

import yaml
from fastapi import FastAPI

from service.errors import (
    PROBLEM_MEDIA_TYPE,
    DatabaseUnavailable,
    InvalidEncoding,
    InvalidJson,
    NulCharacter,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
)
from service.idempotency import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from service.schemas import Problem

IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any string up to 255 characters. A retry with the same key and body gets the "
    "first answer again without a second effect; with another body, 422; while the first is "
    "still running, 409. Kept at least 24 hours, per API key.",
    "schema": {"type": "string", "maxLength": 255},
}


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# What the middleware and the database may answer on any operation, beside what its route lists:
# on every authenticated one; on every POST and PATCH, whose bodies BodyLimits checks (JSON
# ones also for invalid_json; `:import` takes files); and on every POST (the Idempotency-Key).
ANY_OPERATION: tuple[type[ServiceError], ...] = (NulCharacter, InvalidEncoding, DatabaseUnavailable)
WITH_A_BODY: tuple[type[ServiceError], ...] = (PayloadTooLarge, UnsupportedMediaType)
ON_POST: tuple[type[ServiceError], ...] = (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# The response headers the service sets, declared once and referred to where they are sent.
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own X-Request-ID when it is sane, else a "
        "new one. Logs carry it; quote it when reporting a problem.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The version of the record in this answer; send it as If-Match to "
        "change or delete the record.",
        "schema": {"type": "string"},
        "example": '"3"',
    },
    "Location": {
        "description": "Where the record just created is read.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first answer to the same Idempotency-Key "
        "and body, given again; absent on a first answer.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _document_problems(document: dict[str, Any]) -> None:
    """Document 422 as the problem document it is, the Idempotency-Key of every POST, and the
    problems any operation may answer (ANY_OPERATION, WITH_A_BODY, ON_POST)."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            response = responses.get("422")
            if response is not None:
                response["content"] = PROBLEM_CONTENT
                if response.get("description") == "Validation Error":
                    response["description"] = "Request failed validation (`validation_failed`)"
            if not operation.get("security"):
                continue  # /healthz, /readyz, /metrics: no key, no body, their own answers
            errors = list(ANY_OPERATION)
            if method in ("post", "patch", "put"):
                errors += WITH_A_BODY
                if not path.endswith(":import"):
                    errors.append(InvalidJson)
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
                errors += ON_POST
            labels = [(422, "Request failed validation (`validation_failed`)")]
            labels += [(e.status, f"{e.title} (`{e.code}`)") for e in errors]
            for status, label in labels:
                entry = responses.setdefault(str(status), {"description": label})
                if label not in entry["description"]:
                    entry["description"] = f"{entry['description'].rstrip('.')}; {label}"
                entry["content"] = PROBLEM_CONTENT
            operation["responses"] = dict(sorted(responses.items()))
    _document_headers(document)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _document_headers(document: dict[str, Any]) -> None:
    """Every response carries X-Request-ID; 429 and 503 Retry-After; an answer holding a
    versioned record its ETag; a 201 holding a new record its Location; any 2xx to a POST may be
    an idempotent replay."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["components"]["headers"] = RESPONSE_HEADERS
    # A draft schedule has no version: its ETag is the id of the build that made it.
    etag_of_a_build = {"buildSchedule", "publishSchedule"}

    def fields(response: dict[str, Any]) -> dict[str, Any]:
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        return dict(schemas.get(name, {}).get("properties", {}))

    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                names = ["X-Request-ID"]
                if status in ("429", "503"):
                    names.append("Retry-After")
                if status.startswith("2"):
                    if "version" in fields(response) or operation["operationId"] in etag_of_a_build:
                        names.append("ETag")
                    if status == "201" and "id" in fields(response):
                        names.append("Location")
                    if method == "post" and operation.get("security"):
                        names.append("Idempotent-Replayed")
                headers = response.setdefault("headers", {})
                for name in names:
                    headers[name] = {"$ref": f"#/components/headers/{name}"}


def openapi_yaml(app: FastAPI) -> str:
    """The contract as committed in openapi.yaml: stable key order, Chinese kept readable."""
    return yaml.dump(
        app.openapi(), Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False, width=100
    )


def document_openapi(app: FastAPI, *, order: Sequence[str] = ()) -> None:
    """Make the app's OpenAPI document the contract: the Problem schema, every problem and
    response header an operation may answer. Its paths come in `order` (the app's routes may be
    in another, the order requests are matched in), then any others in the app's order."""
    original = app.openapi
    rank = {path: index for index, path in reversed(list(enumerate(order)))}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        paths = document.get("paths", {})
        ordered = sorted(paths, key=lambda path: rank.get(path, len(order)))
        document["paths"] = {path: paths[path] for path in ordered}
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        _document_problems(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
