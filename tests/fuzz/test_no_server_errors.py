"""Bad input anywhere gets a 4xx problem, never a 500.

Every operation of every service's OpenAPI document is called with malformed bodies, wrong
types, missing and oversized fields, odd path and query values, by a caller holding every
role. Bounded: a fixed set of variants per operation, deterministic, loopback only.
"""

from __future__ import annotations

import importlib
import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from ideabank_infra.auth import ROLES, LocalIssuer
from ideabank_infra.settings import ServiceSettings
from ideabank_infra.testing import bearer, serve

SERVICES = ("intake", "evaluation", "decision", "notification", "reporting")
ODD_IDS = ("does-not-exist", "0", "%20", "x" * 300, "../etc", "ñ-ø-å")
ODD_QUERY = ("", "-1", "abc", "9" * 30, "2026-13-45", "null", "<script>")


def settings_class(module: Any) -> type[ServiceSettings]:
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__:
            return obj
    raise AssertionError(f"no settings class in {module.__name__}")


@pytest.fixture(params=SERVICES)
async def service(
    request: pytest.FixtureRequest, nats_url: str, issuer: LocalIssuer, tmp_path
) -> AsyncIterator[tuple[str, httpx.AsyncClient, dict[str, Any]]]:
    name = request.param
    bootstrap = importlib.import_module(f"ideabank_{name}.bootstrap")
    settings_cls = settings_class(importlib.import_module(f"ideabank_{name}.settings"))
    tenant = f"fz{uuid.uuid4().hex[:8]}"
    settings = settings_cls(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=tmp_path,
        consumer_suffix=f"-{tenant}",
        consumer_tenants=[tenant],
        log_json=False,
        log_level="CRITICAL",
    )
    app = bootstrap.create_app(settings)
    async with serve(app) as client:
        yield tenant, client, app.openapi()


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def wrong_value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "string":
        return 12345
    if kind in ("integer", "number"):
        return "not a number"
    if kind == "array":
        return "not a list"
    if kind == "object":
        return 7
    if kind == "boolean":
        return {"x": 1}
    return [None, {"deep": [1, "x"]}]


def bodies(schema: dict[str, Any], spec: dict[str, Any]) -> Iterator[Any]:
    schema = resolve(schema, spec)
    props = schema.get("properties", {})
    yield {}
    yield []
    yield None
    yield "just a string"
    yield {"unexpected": "field"}
    if props:
        for key, prop in list(props.items())[:8]:
            yield {key: wrong_value(resolve(prop, spec))}
        yield {key: "x" * 100_000 for key in list(props)[:3]}
        yield {key: None for key in props}
        yield {key: -(10**20) for key in props}


def fill_path(path: str, value: str) -> str:
    import re

    return re.sub(
        r"\{[^}]+\}", httpx.URL(value).raw_path.decode() if "/" not in value else "x", path
    )


async def test_no_operation_answers_500(
    service: tuple[str, httpx.AsyncClient, dict[str, Any]], issuer: LocalIssuer
) -> None:
    tenant, client, spec = service
    auth = bearer(
        issuer.mint(
            tenant=tenant, roles=sorted(ROLES), person=f"{tenant}-p1", org_unit=f"{tenant}-adm"
        )
    )
    failures: list[str] = []
    calls = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            ids = ODD_IDS if "{" in path else ("",)
            requests: list[dict[str, Any]] = []
            for odd in ids[:3]:
                url = fill_path(path, odd) if odd else path
                names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
                for shift in range(len(ODD_QUERY) if names else 1):
                    params = {
                        name: ODD_QUERY[(i + shift) % len(ODD_QUERY)]
                        for i, name in enumerate(names)
                    }
                    requests.append({"url": url, "params": params})
                if "requestBody" in op:
                    content = op["requestBody"].get("content", {})
                    schema = content.get("application/json", {}).get("schema", {})
                    for body in bodies(schema, spec):
                        requests.append({"url": url, "json": body})
                    requests.append(
                        {
                            "url": url,
                            "content": b"{not json",
                            "headers": {"content-type": "application/json"},
                        }
                    )
            for req in requests:
                headers = {**auth, **req.pop("headers", {})}
                resp = await client.request(method.upper(), headers=headers, **req)
                calls += 1
                if resp.status_code >= 500:
                    failures.append(f"{method.upper()} {req.get('url')} {req} → {resp.status_code}")
                elif resp.status_code >= 400 and not resp.headers.get(
                    "content-type", ""
                ).startswith("application/problem+json"):
                    failures.append(
                        f"{method.upper()} {req.get('url')} → {resp.status_code} "
                        f"without problem details"
                    )
    print(f"{tenant}: {calls} calls")
    assert calls > 0
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n".join(failures[:30])
