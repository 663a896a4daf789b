"""The OpenAPI document describes every answer: each operation's success has a real schema (not ``{}``), and
every error it documents has the API's error shape."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from offerflow_status_api.api import (
    routes_admin,
    routes_inventory,
    routes_offers,
    routes_publishing,
    routes_staging,
    routes_stream,
    routes_support,
)
from offerflow_status_api.api.app import create_app
from tests.api.servers import no_resources


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(no_resources)


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def describes_something(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says what the body holds: an object with properties, a list of such, or a typed scalar."""
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        return describes_something(spec, schema.get("items") or {})
    if schema.get("type") == "object" or "properties" in schema:
        return bool(schema.get("properties"))
    return "type" in schema


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_every_route_of_the_api_is_in_the_document(spec: dict[str, Any]) -> None:
    modules = (routes_offers, routes_publishing, routes_inventory, routes_staging, routes_admin, routes_stream,
               routes_support)
    routes = {(m, r.path) for module in modules
              for r in module.router.routes if isinstance(r, APIRoute) and r.include_in_schema for m in r.methods}
    assert routes == {(m, p) for m, p, _ in operations(spec)}
    assert len(routes) >= 24


def test_every_operation_documents_a_success_with_a_schema(spec: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(spec):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        if not successes:
            problems.append(f"{method} {path}: no 2xx response")
        for code, response in successes.items():
            content = response.get("content")
            if not content:
                # No body by design: 204, or 202 whose Location names the operation (the original API).
                if not (code == "204" or (code == "202" and "Location" in response.get("headers", {}))):
                    problems.append(f"{method} {path} {code}: no body described")
                continue
            for media, body in content.items():
                if not describes_something(spec, body.get("schema") or {}):
                    problems.append(f"{method} {path} {code} {media}: empty schema {body.get('schema')}")
    assert not problems, "\n".join(problems)


def test_every_documented_error_has_the_error_shape(spec: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(spec):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        if not errors:
            problems.append(f"{method} {path}: no error documented")
        for code, response in errors.items():
            schema = (response.get("content") or {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/ErrorBody":
                problems.append(f"{method} {path} {code}: {schema}")
    assert not problems, "\n".join(problems)


def test_the_status_document_documents_its_steps(spec: dict[str, Any]) -> None:
    status = resolve(spec, {"$ref": "#/components/schemas/StatusDocument"})
    step = resolve(spec, status["properties"]["steps"]["items"])
    assert {"id", "status", "estimatedTimeFrame", "etaSeconds", "overdue", "messages"} <= set(step["properties"])
    assert {"status", "messages", "steps", "previewLinks", "liveLinks"} <= set(status["required"])
