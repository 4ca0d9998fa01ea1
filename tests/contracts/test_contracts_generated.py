"""The checked-in JSON Schemas and AsyncAPI document are exactly what the code generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ideabank_contracts import ALL_EVENTS, EventData
from ideabank_contracts.events import IdeaEventData
from ideabank_contracts.generate import (
    ASYNCAPI_FILE,
    JSON_SCHEMA_DIALECT,
    REGENERATE_HINT,
    SCHEMA_DIR,
    asyncapi_document,
    check_all,
    event_schema,
    expected_files,
    main,
    schema_path,
    write_all,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
GENERATED = {path.as_posix() for path in expected_files()}


def test_checked_in_files_equal_the_generated_ones() -> None:
    problems = check_all(CONTRACTS)
    assert not problems, "\n".join(
        [*problems, f"contract files are out of date: {REGENERATE_HINT}"]
    )


def test_check_all_reports_missing_extra_and_changed_files(tmp_path: Path) -> None:
    assert len(write_all(tmp_path)) == len(ALL_EVENTS) + 1
    assert check_all(tmp_path) == []
    assert write_all(tmp_path) == []  # nothing to do the second time
    first, second = (schema_path(m) for m in ALL_EVENTS[:2])
    (tmp_path / first).unlink()
    (tmp_path / second).write_text("{}\n")
    (tmp_path / SCHEMA_DIR / "idea.levitated.v1.json").write_text("{}\n")
    problems = check_all(tmp_path)
    assert problems[0] == f"missing: {tmp_path / first}"
    assert problems[1].startswith(f"changed: {tmp_path / second}\n")
    assert problems[2].startswith(f"extra: {tmp_path / SCHEMA_DIR / 'idea.levitated.v1.json'}")
    assert len(problems) == 3
    write_all(tmp_path)
    assert check_all(tmp_path) == []


def test_command_line_check_exits_1_on_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "make schemas" in capsys.readouterr().out
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0


def test_output_is_deterministic() -> None:
    assert expected_files() == expected_files()
    content = expected_files()[ASYNCAPI_FILE]
    assert content.endswith("}\n") and '\n  "asyncapi": "3.0.0"' in content


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.schema_name())
def test_each_schema_is_self_describing(model: type[EventData]) -> None:
    schema = event_schema(model)
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"] == model.dataschema()
    assert schema["title"] == model.__name__ and schema["description"]
    assert schema["x-cloudevents-type"] == model.ce_type()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    if issubclass(model, IdeaEventData):
        assert "idea_id" in schema["required"]
    _assert_refs_resolve(schema, schema, base=None)


def _assert_refs_resolve(node: Any, root: dict[str, Any], base: Path | None) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref.startswith("#/"):
                target: Any = root
                for part in ref[2:].split("/"):
                    assert part in target, f"dangling $ref {ref}"
                    target = target[part]
            else:
                assert base is not None, f"external $ref {ref} in a schema"
                assert (base / ref).as_posix() in GENERATED, f"dangling $ref {ref}"
        for value in node.values():
            _assert_refs_resolve(value, root, base)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(value, root, base)


def test_asyncapi_document_shape() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    _assert_refs_resolve(doc, doc, base=ASYNCAPI_FILE.parent)
    assert len(doc["channels"]) == len({(m.aggregate, m.event) for m in ALL_EVENTS})
    for model in ALL_EVENTS:
        channel = doc["channels"][f"{model.aggregate}.{model.event}"]
        prefix = "deviations" if model.inbound else "ideas"
        assert channel["address"] == f"{prefix}.v1.{{tenant}}.{model.aggregate}.{model.event}"
        assert set(channel["parameters"]) == {"tenant"}
        action = "receive" if model.inbound else "send"
        operation = doc["operations"][f"{action}.{model.aggregate}.{model.event}"]
        assert operation["action"] == action
        message = doc["components"]["messages"][model.schema_name()]
        assert message["contentType"] == "application/cloudevents+json"
        data = message["payload"]["allOf"][1]["properties"]["data"]
        assert data == {"$ref": f"./schemas/{model.schema_name()}.json"}
    headers = doc["components"]["schemas"]["NatsHeaders"]["properties"]
    assert {"Nats-Msg-Id", "traceparent", "ce-type", "ce-tenant"} <= headers.keys()


def test_samples_validate_against_their_schema(make_sample: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for model in ALL_EVENTS:
        schema = json.loads(expected_files()[schema_path(model)])
        jsonschema.Draft202012Validator(schema).validate(make_sample(model).model_dump(mode="json"))
