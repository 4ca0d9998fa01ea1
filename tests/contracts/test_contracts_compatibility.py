"""Within one version a schema may only gain optional properties (SPEC §6)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ideabank_contracts import ALL_EVENTS
from ideabank_contracts.events import IdeaEvaluated, IdeaSubmitted
from ideabank_contracts.generate import SCHEMA_DIR, compatibility_problems, event_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path("contracts") / SCHEMA_DIR
CHECKED_IN = sorted((ROOT / SCHEMAS).glob("*.json"))
# Schema files deliberately removed after their deprecation period ended.
RETIRED: set[str] = set()


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def _head_exists() -> bool:
    try:
        return _git("rev-parse", "--verify", "--quiet", "HEAD").returncode == 0
    except FileNotFoundError:
        return False


HEAD = _head_exists()


@pytest.mark.parametrize("path", CHECKED_IN, ids=lambda p: p.name)
def test_schema_is_compatible_with_head(path: Path) -> None:
    if not HEAD:
        pytest.skip("no git HEAD to compare with")
    relative = path.relative_to(ROOT).as_posix()
    shown = _git("show", f"HEAD:{relative}")
    if shown.returncode != 0:
        pytest.skip(f"{relative} is new since HEAD")
    problems = compatibility_problems(json.loads(shown.stdout), json.loads(path.read_text()))
    assert not problems, (
        f"{relative} changed incompatibly; publish a new version instead:\n" + "\n".join(problems)
    )


def test_no_schema_disappeared_since_head() -> None:
    if not HEAD:
        pytest.skip("no git HEAD to compare with")
    listed = _git("ls-tree", "--name-only", "HEAD", f"{SCHEMAS.as_posix()}/")
    at_head = {Path(line).name for line in listed.stdout.splitlines() if line.endswith(".json")}
    gone = at_head - {p.name for p in CHECKED_IN} - RETIRED
    assert not gone, f"schemas removed while consumers may rely on them: {sorted(gone)}"


# --- compatibility_problems itself ---------------------------------------------------------


@pytest.fixture
def old() -> dict[str, Any]:
    return event_schema(IdeaEvaluated)


def _changed(schema: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(schema)


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.schema_name())
def test_a_schema_is_compatible_with_itself(model: Any) -> None:
    assert compatibility_problems(event_schema(model), event_schema(model)) == []


def test_new_optional_property_is_allowed(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["properties"]["rating"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert compatibility_problems(old, new) == []


def test_removed_property_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    del new["properties"]["benefit_description"]
    assert compatibility_problems(old, new) == ["benefit_description: property removed"]


def test_removed_required_property_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    del new["properties"]["lessons_learned"]
    new["required"].remove("lessons_learned")
    assert compatibility_problems(old, new) == ["lessons_learned: property removed"]


def test_type_change_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["properties"]["lessons_learned"] = {"type": "array", "items": {"type": "string"}}
    assert compatibility_problems(old, new) == [
        "lessons_learned: type changed from string to array"
    ]


def test_type_change_inside_a_referenced_definition_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["$defs"]["Money"]["properties"]["amount"] = {"type": "number"}
    assert compatibility_problems(old, new) == [
        "realised_benefit.amount: type changed from string to number"
    ]


def test_new_required_property_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["properties"]["rating"] = {"type": "integer"}
    new["required"].append("rating")
    assert compatibility_problems(old, new) == [
        "rating: new property is required (only optional may be added)"
    ]


def test_optional_property_made_required_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["required"].append("benefit_description")
    assert compatibility_problems(old, new) == ["benefit_description: property became required"]


def test_required_property_made_optional_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["required"].remove("lessons_learned")
    assert compatibility_problems(old, new) == ["lessons_learned: property is no longer required"]


def test_changed_enum_values_are_caught() -> None:
    old = event_schema(IdeaSubmitted)
    new = _changed(old)
    new["$defs"]["Channel"]["enum"] = ["staff_portal", "public_channel", "carrier_pigeon"]
    (problem,) = compatibility_problems(old, new)
    assert problem.startswith("channel: allowed values changed")
    assert '"deviation"' in problem and '"carrier_pigeon"' in problem


def test_changed_format_is_caught(old: dict[str, Any]) -> None:
    new = _changed(old)
    new["properties"]["evaluated_at"]["format"] = "date"
    assert compatibility_problems(old, new) == [
        "evaluated_at: format changed from date-time to date"
    ]


def test_array_items_are_compared() -> None:
    old = event_schema(IdeaSubmitted)
    new = _changed(old)
    new["properties"]["co_author_ids"]["items"] = {"type": "integer"}
    assert compatibility_problems(old, new) == [
        "co_author_ids[]: type changed from string to integer"
    ]
