"""Event models: round trip through the envelope, catalogue rules, validation, personal data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from ideabank_contracts import ALL_EVENTS, BY_TYPE, CloudEvent, EventData, new_event, parse_data
from ideabank_contracts.catalogue import _check_catalogue, latest
from ideabank_contracts.events import (
    DecisionMade,
    DeviationRegistered,
    IdeaSubmitted,
    IndicatorDefined,
    OrgUnitDefined,
    PersonRegistered,
    PersonUpdated,
    ScreeningCompleted,
    TenantRegistered,
    TrialRecorded,
)
from ideabank_contracts.events.decision_basis import ProposedIndicator
from ideabank_contracts.events.idea import IdeaStatus
from ideabank_contracts.events.screening import CriterionScore
from pydantic import BaseModel, ValidationError

MakeSample = Callable[[type[BaseModel]], BaseModel]
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def _ids(model: type[EventData]) -> str:
    return model.schema_name()


@pytest.mark.parametrize("model", ALL_EVENTS, ids=_ids)
def test_round_trip_through_the_envelope(model: type[EventData], make_sample: MakeSample) -> None:
    data = make_sample(model)
    assert isinstance(data, EventData)
    ce = new_event(
        data, tenant="boras", subject=getattr(data, "idea_id", "aggregate-1"), source="/tests"
    )
    back = CloudEvent.from_json(ce.to_json())
    assert back == ce
    parsed = parse_data(back)
    assert type(parsed) is model
    assert parsed == data
    assert back.type == model.ce_type() and back.dataschema == model.dataschema()
    assert back.nats_subject == model.subject("boras")


def test_catalogue_covers_every_type_once() -> None:
    assert len(BY_TYPE) == len(ALL_EVENTS)
    assert all(BY_TYPE[m.ce_type()] is m for m in ALL_EVENTS)
    assert "se.ideabank.idea.submitted.v1" in BY_TYPE
    assert latest("idea", "submitted") is IdeaSubmitted
    with pytest.raises(KeyError):
        latest("idea", "status_changed")


def test_catalogue_rejects_a_duplicate_version() -> None:
    class Twin(EventData):
        aggregate = "idea"
        event = "submitted"

    with pytest.raises(ValueError, match=r"idea\.submitted\.v1"):
        _check_catalogue([*ALL_EVENTS, Twin])


def test_parse_data_raises_key_error_for_unknown_type() -> None:
    ce = CloudEvent(
        id="1", source="/x", type="se.ideabank.idea.levitated.v1", time=NOW,
        subject="i-1", tenant="boras", data={},
    )  # fmt: skip
    with pytest.raises(KeyError):
        parse_data(ce)


def test_deviation_travels_outside_the_ideas_stream(make_sample: MakeSample) -> None:
    ce = new_event(make_sample(DeviationRegistered), tenant="vetlanda", subject="d-1", source="/x")
    assert ce.nats_subject == "deviations.v1.vetlanda.deviation.registered"
    assert DeviationRegistered.inbound and not IdeaSubmitted.inbound


def test_consumers_ignore_unknown_fields(make_sample: MakeSample) -> None:
    data = make_sample(IdeaSubmitted).model_dump(mode="json")
    parsed = IdeaSubmitted.model_validate({**data, "added_in_a_later_release": 1})
    assert parsed == make_sample(IdeaSubmitted)


def test_amounts_travel_as_exact_strings(make_sample: MakeSample) -> None:
    indicator = make_sample(IndicatorDefined).model_copy(
        update={"baseline": Decimal("0.1"), "target": Decimal("1E+3")}
    )
    dumped = indicator.model_dump(mode="json")
    assert dumped["baseline"] == "0.1" and dumped["target"] == "1000"
    with pytest.raises(ValidationError):
        IndicatorDefined.model_validate({**dumped, "baseline": "NaN"})


def test_every_model_and_field_is_documented() -> None:
    def check(model: type[BaseModel]) -> None:
        assert model.__doc__, f"{model.__name__} has no docstring"
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
        for field in model.model_fields.values():
            for arg in _nested_models(field.annotation):
                check(arg)

    for model in ALL_EVENTS:
        check(model)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


# Names of things, not of people.
THING_NAMES = {
    (TenantRegistered, "name"),
    (OrgUnitDefined, "name"),
    (IndicatorDefined, "name"),
    (ProposedIndicator, "name"),
}
PERSONAL = re.compile(r"(^|_)(name|names|email|e_mail|mail|phone|mobile|address|ssn)($|_)")


def test_only_person_events_carry_names_or_contact_details() -> None:
    found: list[str] = []

    def scan(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            if PERSONAL.search(name) and (model, name) not in THING_NAMES:
                found.append(f"{model.__name__}.{name}")
            for nested in _nested_models(field.annotation):
                scan(nested)

    for model in ALL_EVENTS:
        if model not in (PersonRegistered, PersonUpdated):
            scan(model)
    assert not found, f"personal data outside the person events: {found}"
    assert {"name", "email"} <= PersonRegistered.model_fields.keys()


def test_statuses_are_the_canonical_list() -> None:
    assert [s.value for s in IdeaStatus] == [
        "submitted", "in_screening", "rejected", "paused", "quick_win", "in_development",
        "awaiting_decision", "approved", "deferred", "in_implementation", "implemented",
        "evaluated", "spread", "withdrawn", "merged",
    ]  # fmt: skip


def _with(make_sample: MakeSample, model: type[BaseModel], **changes: Any) -> dict[str, Any]:
    return {**make_sample(model).model_dump(), **changes}


@pytest.mark.parametrize(
    ("model", "changes", "message"),
    [
        (ScreeningCompleted, {"outcome": "rejected", "motivation": None}, "motivation"),
        (ScreeningCompleted, {"outcome": "paused", "revisit_date": None}, "revisit_date"),
        (ScreeningCompleted, {"outcome": "quick_win", "routed_to_org_unit_id": None}, "routed"),
        (DecisionMade, {"outcome": "approved", "kind": None}, "kind"),
        (DecisionMade, {"outcome": "approved", "implementer_id": None}, "implementer_id"),
        (DecisionMade, {"outcome": "rejected", "motivation": None}, "motivation"),
        (DecisionMade, {"outcome": "deferred", "revisit_date": None}, "revisit_date"),
        (TrialRecorded, {"end_date": date(2025, 1, 1)}, "end_date"),
        (DecisionMade, {"outcome": "postponed"}, "outcome"),
        (IdeaSubmitted, {"channel": "fax"}, "channel"),
        (IdeaSubmitted, {"submitted_at": datetime(2025, 3, 14, 9, 30)}, "submitted_at"),
        (IdeaSubmitted, {"title": ""}, "title"),
        (PersonRegistered, {"language": "de"}, "language"),
        (PersonRegistered, {"roles": ["superuser"]}, "roles"),
    ],
)
def test_invalid_events_are_refused(
    model: type[BaseModel], changes: dict[str, Any], message: str, make_sample: MakeSample
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(_with(make_sample, model, **changes))


def test_valid_outcomes_without_their_optional_fields(make_sample: MakeSample) -> None:
    in_development = _with(
        make_sample, ScreeningCompleted, outcome="in_development", motivation=None,
        revisit_date=None, routed_to_org_unit_id=None, routed_to_person_id=None,
    )  # fmt: skip
    assert ScreeningCompleted.model_validate(in_development).outcome == "in_development"
    rejected = _with(make_sample, DecisionMade, outcome="rejected", kind=None, implementer_id=None)
    assert DecisionMade.model_validate(rejected).kind is None


def test_criterion_score_stays_on_its_scale() -> None:
    with pytest.raises(ValidationError, match="scale_max"):
        CriterionScore(criterion_key="mission", label="Mission", score=6, weight=Decimal(1))
    assert CriterionScore(criterion_key="mission", label="M", score=5, weight=Decimal(1)).score == 5
