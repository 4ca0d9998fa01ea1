"""apply_in_runs: runs of some event types together, everything in stream order."""

from __future__ import annotations

from typing import Any

from ideabank_contracts import CloudEvent
from ideabank_infra.consumer import apply_in_runs

from tests.infra.test_delivery import make_event


def _event(event_type: str, n: int) -> CloudEvent:
    update = {"type": f"se.ideabank.{event_type}.v1", "id": f"e{n}"}
    return make_event("t1").model_copy(update=update)


async def test_runs_are_applied_together_and_every_event_in_stream_order() -> None:
    calls: list[tuple[str, list[str]]] = []

    def each(name: str) -> Any:
        async def handler(conn: Any, event: CloudEvent) -> None:
            calls.append((name, [event.id]))

        return handler

    def run(name: str) -> Any:
        async def handler(conn: Any, events: list[CloudEvent]) -> None:
            calls.append((name, [e.id for e in events]))

        return handler

    types = [
        "idea.submitted",
        "idea.submitted",
        "idea.commented",  # no handler of its own, none for "*": skipped, the run goes on
        "idea.submitted",
        "idea.assigned",  # ends the run before it
        "idea.submitted",
        "idea.supported",  # another run type ends the run of submissions
        "idea.supported",
    ]
    events = [_event(t, n) for n, t in enumerate(types)]
    await apply_in_runs(
        None,  # type: ignore[arg-type]
        events,
        {"idea.assigned": each("assigned")},
        {"idea.submitted": run("submitted"), "idea.supported": run("supported")},
    )
    assert calls == [
        ("submitted", ["e0", "e1", "e3"]),
        ("assigned", ["e4"]),
        ("submitted", ["e5"]),
        ("supported", ["e6", "e7"]),
    ]
    # With a handler for every other type ("*"), each event gets it, between the runs.
    calls.clear()
    await apply_in_runs(
        None,  # type: ignore[arg-type]
        events[:4],
        {"*": each("other")},
        {"idea.submitted": run("submitted")},
    )
    assert calls == [("submitted", ["e0", "e1"]), ("other", ["e2"]), ("submitted", ["e3"])]
