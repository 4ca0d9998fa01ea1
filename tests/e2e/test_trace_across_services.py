"""One trace spans an HTTP request to intake, the event on NATS and evaluation's consumer."""

from __future__ import annotations

import uuid
from pathlib import Path

from ideabank_evaluation.bootstrap import create_app as evaluation_app
from ideabank_evaluation.settings import EvaluationSettings
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.telemetry import memory_exporter, setup_tracing
from ideabank_infra.testing import bearer, eventually, serve
from ideabank_intake.bootstrap import create_app as intake_app
from ideabank_intake.settings import IntakeSettings
from opentelemetry.trace import SpanKind


async def test_trace_id_survives_http_nats_and_consumer(
    nats_url: str, issuer: LocalIssuer, tmp_path: Path
) -> None:
    setup_tracing("tests", "memory")
    exporter = memory_exporter()
    assert exporter is not None
    tenant = f"tr{uuid.uuid4().hex[:8]}"
    common = {
        "nats_url": nats_url,
        "jwks_url": issuer.jwks_url,
        "data_dir": tmp_path,
        "consumer_suffix": f"-{tenant}",
        "consumer_tenants": [tenant],
        "log_json": False,
        "ack_wait_seconds": 5,
    }
    intake = intake_app(
        IntakeSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'i.db'}", **common)
    )
    evaluation = evaluation_app(
        EvaluationSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", **common)
    )
    async with serve(intake) as client, serve(evaluation):
        admin = bearer(issuer.mint(tenant=tenant, roles=["tenant_admin"], person="admin"))
        doc = {
            "tenant": {"name": "Spårby kommun"},
            "org_units": [
                {"id": "adm", "kind": "administration", "name": "Förvaltningen"},
                {"id": "dep", "kind": "department", "name": "Avdelningen", "parent_id": "adm"},
                {"id": "unit", "kind": "unit", "name": "Enheten", "parent_id": "dep"},
            ],
            "people": [
                {
                    "id": "amb",
                    "name": "Amb Assadör",
                    "email": "amb@spar.example",
                    "org_unit_id": "adm",
                    "roles": ["employee", "ambassador"],
                },
                {
                    "id": "emp",
                    "name": "Med Arbetare",
                    "email": "emp@spar.example",
                    "org_unit_id": "unit",
                    "roles": ["employee"],
                },
            ],
            "ambassadors": [{"administration_id": "adm", "person_id": "amb"}],
        }
        assert (await client.put("/v1/admin/tenancy", json=doc, headers=admin)).status_code == 200
        exporter.clear()
        employee = bearer(
            issuer.mint(tenant=tenant, roles=["employee"], person="emp", org_unit="unit")
        )
        resp = await client.post(
            "/v1/ideas",
            json={
                "title": "Spårbar idé",
                "description": "En idé att följa genom systemet.",
                "problem": "Vi vet inte vart idéer tar vägen.",
                "org_unit_id": "unit",
            },
            headers=employee,
        )
        assert resp.status_code == 201, resp.text

        def http_span():  # type: ignore[no-untyped-def]
            return next(
                (
                    s
                    for s in exporter.get_finished_spans()
                    if s.kind == SpanKind.SERVER and "/v1/ideas" in s.name
                ),
                None,
            )

        server = await eventually(http_span, timeout=10)

        def consumer_span():  # type: ignore[no-untyped-def]
            return next(
                (
                    s
                    for s in exporter.get_finished_spans()
                    if s.kind == SpanKind.CONSUMER
                    and s.name == "consume se.ideabank.idea.submitted.v1"
                    and s.attributes
                    and s.attributes.get("messaging.consumer.group.name", "").startswith(
                        "evaluation"
                    )
                ),
                None,
            )

        consumed = await eventually(consumer_span, timeout=20)
        assert consumed.context.trace_id == server.context.trace_id
