"""Generate, check and compare the published contract files.

From :data:`ideabank_contracts.catalogue.ALL_EVENTS` this writes one JSON Schema
(draft 2020-12) per event version to ``contracts/schemas/<aggregate>.<event>.v<N>.json``
and one AsyncAPI 3.0.0 document of the whole catalogue to ``contracts/asyncapi.json``.
Functions taking ``root`` expect the ``contracts`` folder (as ``ideabank contracts`` does).
Output is deterministic (sorted keys, 2-space indent, trailing newline) so CI can compare
the checked-in files with the code byte for byte.

Usage::

    python -m ideabank_contracts.generate            # write the files
    python -m ideabank_contracts.generate --check    # exit 1 and list differences
    python -m ideabank_contracts.generate --root path/to/contracts
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ideabank_contracts.catalogue import ALL_EVENTS
from ideabank_contracts.envelope import CONTENT_TYPE, CloudEvent, EventData
from ideabank_contracts.subjects import (
    DEAD_LETTER_SUBJECTS,
    DEVIATIONS_STREAM_NAME,
    STREAM_NAME,
    STREAM_SUBJECTS,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
# The version of the catalogue as a whole; subjects carry only its major ("ideas.v1").
API_VERSION = "1.0.0"
# Both relative to the contracts folder; asyncapi.json refers to the schemas as ./schemas/.
SCHEMA_DIR = Path("schemas")
ASYNCAPI_FILE = Path("asyncapi.json")
REGENERATE_HINT = "run `make schemas` (python -m ideabank_contracts.generate) and commit the result"
_MAX_DIFF_LINES = 40

Json = dict[str, Any]


# --- JSON Schema ---------------------------------------------------------------------------


def _doc(model: type[EventData]) -> str:
    return inspect.cleandoc(model.__doc__ or model.ce_type())


def event_schema(model: type[EventData]) -> Json:
    """The JSON Schema (draft 2020-12) of one event version's ``data``."""
    schema = model.model_json_schema(mode="validation")
    schema.update(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": model.dataschema(),
            "title": model.__name__,
            "description": _doc(model),
            "x-cloudevents-type": model.ce_type(),
            "x-nats-subject": model.channel_address(),
        }
    )
    return schema


def schema_path(model: type[EventData]) -> Path:
    """Path of an event version's schema file, relative to the contracts folder."""
    return SCHEMA_DIR / f"{model.schema_name()}.json"


# --- AsyncAPI ------------------------------------------------------------------------------


_HEADERS_SCHEMA: Json = {
    "type": "object",
    "description": "NATS headers set by the outbox relay next to the structured CloudEvent.",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The CloudEvent id; JetStream drops a duplicate published "
            "within the stream's duplicate window.",
        },
        "traceparent": {
            "type": "string",
            "description": "W3C Trace Context of the producing span (OpenTelemetry).",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        },
        "ce-type": {
            "type": "string",
            "description": "Copy of the CloudEvents type, to route without parsing the body.",
        },
        "ce-tenant": {
            "type": "string",
            "description": "Copy of the CloudEvents tenant extension (the tenant slug).",
        },
    },
    "required": ["Nats-Msg-Id", "ce-type", "ce-tenant"],
}

_INFO_DESCRIPTION = f"""\
Every state change of an idea, and of the tenancy it lives in, as a CloudEvents 1.0
message in structured JSON mode on NATS JetStream.

* Stream `{STREAM_NAME}` holds subjects `{", ".join(STREAM_SUBJECTS)}`:
  `ideas.v1.<tenant>.<aggregate>.<event>`. Subscribe to one tenant (`ideas.v1.boras.>`),
  one event type (`ideas.v1.*.idea.submitted`) or everything (`ideas.v1.>`).
* The CloudEvents `type` names the data version (`se.ideabank.idea.submitted.v1`);
  `dataschema` points at its JSON Schema. A version only ever gains optional fields:
  ignore fields you do not know. Anything else is a new version published beside the old.
* `Nats-Msg-Id` is the event id, so JetStream drops duplicates; consumers still keep an
  inbox of handled ids because delivery is at least once.
* A message a consumer keeps failing on is parked on `{DEAD_LETTER_SUBJECTS[0]}`
  (`deadletter.<consumer>.<original subject>`) with its error.
* `deviations.v1.<tenant>.deviation.registered` (stream `{DEVIATIONS_STREAM_NAME}`) is the
  one inbound contract: deviation and complaint systems publish it, Ideabank receives it.
* Events carry person ids only; names and email addresses travel solely in the
  `person.*` tenancy events.
"""


def _channel_id(model: type[EventData]) -> str:
    return f"{model.aggregate}.{model.event}"


def _message(model: type[EventData]) -> Json:
    doc = _doc(model)
    return {
        "name": model.__name__,
        "title": f"{model.aggregate}.{model.event} v{model.version}",
        "summary": doc.splitlines()[0],
        "description": doc,
        "contentType": CONTENT_TYPE,
        "tags": [{"name": model.aggregate}],
        "headers": {
            "allOf": [
                {"$ref": "#/components/schemas/NatsHeaders"},
                {"type": "object", "properties": {"ce-type": {"const": model.ce_type()}}},
            ]
        },
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "required": ["type", "dataschema", "data"],
                    "properties": {
                        "type": {"const": model.ce_type()},
                        "dataschema": {"const": model.dataschema()},
                        "datacontenttype": {"const": "application/json"},
                        # Relative to this document, so the schema files stay the one source.
                        "data": {"$ref": f"./schemas/{model.schema_name()}.json"},
                    },
                },
            ]
        },
    }


def asyncapi_document(models: Sequence[type[EventData]] = ALL_EVENTS) -> Json:
    """The AsyncAPI 3.0.0 document of ``models``: one channel per event type."""
    channels: Json = {}
    operations: Json = {}
    messages: Json = {}
    for model in models:
        channel_id = _channel_id(model)
        message_id = model.schema_name()
        messages[message_id] = _message(model)
        channel = channels.setdefault(
            channel_id,
            {
                "address": model.channel_address(),
                "title": channel_id,
                "description": _doc(model).splitlines()[0],
                "parameters": {
                    "tenant": {
                        "description": "Slug of the tenant (municipality).",
                        "examples": ["boras"],
                    }
                },
                "messages": {},
            },
        )
        channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}
        action = "receive" if model.inbound else "send"
        operation = operations.setdefault(
            f"{action}.{channel_id}",
            {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": (
                    f"Ideabank receives {channel_id} from other systems."
                    if model.inbound
                    else f"Ideabank publishes {channel_id}."
                ),
                "tags": [{"name": model.aggregate}],
                "messages": [],
            },
        )
        operation["messages"].append({"$ref": f"#/channels/{channel_id}/messages/{message_id}"})
    envelope = CloudEvent.model_json_schema(mode="validation")
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Ideabank events",
            "version": API_VERSION,
            "description": _INFO_DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "NATS of the embedded default (`make run`).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {"CloudEvent": envelope, "NatsHeaders": _HEADERS_SCHEMA},
            "messages": messages,
        },
    }


# --- Files ---------------------------------------------------------------------------------


def render(document: Json) -> str:
    """Serialise a document deterministically: sorted keys, 2-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files(models: Sequence[type[EventData]] = ALL_EVENTS) -> dict[Path, str]:
    """Every generated file's path (relative to the contracts folder) and content."""
    files = {schema_path(model): render(event_schema(model)) for model in models}
    files[ASYNCAPI_FILE] = render(asyncapi_document(models))
    return files


def _present_schemas(root: Path) -> Iterable[Path]:
    directory = root / SCHEMA_DIR
    return (
        sorted(p.relative_to(root) for p in directory.glob("*.json")) if directory.is_dir() else []
    )


def write_all(root: Path) -> list[Path]:
    """Write every file into the contracts folder ``root``, delete stale schemas; list changes."""
    expected = expected_files()
    changed: list[Path] = []
    for relative, content in expected.items():
        target = root / relative
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        changed.append(relative)
    for relative in _present_schemas(root):
        if relative not in expected:
            (root / relative).unlink()
            changed.append(relative)
    return changed


def check_all(root: Path) -> list[str]:
    """Differences between the files in the contracts folder ``root`` and the generated ones."""
    problems: list[str] = []
    expected = expected_files()
    for relative, content in expected.items():
        target = root / relative
        if not target.is_file():
            problems.append(f"missing: {target}")
            continue
        actual = target.read_text(encoding="utf-8")
        if actual != content:
            diff = list(
                difflib.unified_diff(
                    actual.splitlines(),
                    content.splitlines(),
                    f"{target} (checked in)",
                    f"{target} (generated)",
                    lineterm="",
                )
            )
            shown = diff[:_MAX_DIFF_LINES]
            if len(diff) > len(shown):
                shown.append(f"... {len(diff) - len(shown)} more diff lines")
            problems.append(f"changed: {target}\n" + "\n".join(shown))
    for relative in _present_schemas(root):
        if relative not in expected:
            problems.append(f"extra: {root / relative} (no such event version in the catalogue)")
    return problems


# --- Compatibility -------------------------------------------------------------------------


def compatibility_problems(old_schema: Json, new_schema: Json) -> list[str]:
    """Why ``new_schema`` cannot replace ``old_schema`` under the same version (empty if it can).

    A version may only gain optional properties. Removing a property, changing a type, its
    format or its allowed values, making a property required or optional, and adding a
    required property are problems, at any depth.
    """
    problems: list[str] = []
    _compare(old_schema, new_schema, old_schema, new_schema, "", problems, set())
    return problems


def _resolve(node: Json, root: Json) -> Json:
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        ref = node["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        # Keywords beside "$ref" (pydantic puts "description" there) do not change the shape.
        node = target if isinstance(target, dict) else {}
    return node


def _branches(node: Json, root: Json) -> list[Json]:
    """The alternatives of a node: its anyOf/oneOf branches, resolved, or the node itself."""
    alternatives = node.get("anyOf") or node.get("oneOf")
    if not alternatives:
        return [node]
    return [b for alt in alternatives for b in _branches(_resolve(alt, root), root)]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(node: Json, root: Json) -> set[str]:
    types: set[str] = set()
    for branch in _branches(node, root):
        declared = branch.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(declared)
        elif "const" in branch:
            types.add(_json_type(branch["const"]))
        elif "enum" in branch:
            types.update(_json_type(v) for v in branch["enum"])
        elif "properties" in branch:
            types.add("object")
        else:
            types.add("any")
    return types


def _allowed_values(node: Json, root: Json) -> set[str] | None:
    values: set[str] = set()
    restricted = False
    for branch in _branches(node, root):
        if "const" in branch:
            restricted = True
            values.add(json.dumps(branch["const"]))
        elif "enum" in branch:
            restricted = True
            values.update(json.dumps(v) for v in branch["enum"])
    return values if restricted else None


def _formats(node: Json, root: Json) -> set[str]:
    return {b["format"] for b in _branches(node, root) if "format" in b}


def _only(node: Json, root: Json, kind: str) -> Json | None:
    """The single branch of type ``kind`` (an object or array), or None."""
    found = [b for b in _branches(node, root) if kind in _types(b, root)]
    return found[0] if len(found) == 1 else None


def _compare(
    old: Json,
    new: Json,
    old_root: Json,
    new_root: Json,
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    where = path or "(root)"
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types != new_types:
        before, after = "|".join(sorted(old_types)), "|".join(sorted(new_types))
        problems.append(f"{where}: type changed from {before} to {after}")
        return
    old_values, new_values = _allowed_values(old, old_root), _allowed_values(new, new_root)
    if old_values != new_values:
        removed = sorted((old_values or set()) - (new_values or set()))
        added = sorted((new_values or set()) - (old_values or set()))
        problems.append(
            f"{where}: allowed values changed (removed {', '.join(removed) or 'none'}; "
            f"added {', '.join(added) or 'none'})"
        )
    if _formats(old, old_root) != _formats(new, new_root):
        before = "|".join(sorted(_formats(old, old_root))) or "none"
        after = "|".join(sorted(_formats(new, new_root))) or "none"
        problems.append(f"{where}: format changed from {before} to {after}")
    old_object, new_object = _only(old, old_root, "object"), _only(new, new_root, "object")
    if old_object is not None and new_object is not None:
        _compare_objects(old_object, new_object, old_root, new_root, path, problems, seen)
    old_array, new_array = _only(old, old_root, "array"), _only(new, new_root, "array")
    if old_array is not None and new_array is not None:
        old_items, new_items = old_array.get("items"), new_array.get("items")
        if isinstance(old_items, dict) and isinstance(new_items, dict):
            _compare(old_items, new_items, old_root, new_root, f"{path}[]", problems, seen)


def _compare_objects(
    old: Json,
    new: Json,
    old_root: Json,
    new_root: Json,
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    old_props: Json = old.get("properties", {})
    new_props: Json = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props.keys() | new_props.keys()):
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{where}: property removed")
        elif name not in old_props:
            if name in new_required:
                problems.append(f"{where}: new property is required (only optional may be added)")
        else:
            if name in new_required and name not in old_required:
                problems.append(f"{where}: property became required")
            elif name in old_required and name not in new_required:
                problems.append(f"{where}: property is no longer required")
            _compare(old_props[name], new_props[name], old_root, new_root, where, problems, seen)


# --- Command line --------------------------------------------------------------------------


def default_root() -> Path:
    """The contracts folder of this checkout, else ``./contracts``."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "pyproject.toml").is_file() else Path("contracts")


def main(argv: Sequence[str] | None = None) -> int:
    """Write the contract files, or with ``--check`` report differences and return 1."""
    parser = argparse.ArgumentParser(
        prog="python -m ideabank_contracts.generate",
        description="Generate the event JSON Schemas and the AsyncAPI document.",
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=None, help="the contracts folder")
    args = parser.parse_args(argv)
    root: Path = args.root or default_root()
    if args.check:
        problems = check_all(root)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} contract file(s) out of date: {REGENERATE_HINT}")
            return 1
        print(f"contract files are up to date ({len(expected_files())} files)")
        return 0
    changed = write_all(root)
    for relative in changed:
        target = root / relative
        print(f"wrote {target}" if target.exists() else f"deleted {target}")
    print(f"{len(changed)} file(s) changed, {len(expected_files())} generated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
