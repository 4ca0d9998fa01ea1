"""Evaluation's background timers, started with the app (one loop per replica)."""

from __future__ import annotations

import asyncio
import logging

from ideabank_infra.app import Runtime

from ideabank_evaluation.handlers import resume_due_ideas
from ideabank_evaluation.settings import EvaluationSettings

log = logging.getLogger(__name__)


async def revisit_timer(runtime: Runtime) -> None:
    """Every poll interval, return paused ideas whose revisit date has come to the queue.

    Every replica runs this loop; the claim in :func:`resume_due_ideas` makes each idea
    resume exactly once. The first pass runs at start, so a date passed during downtime
    is caught at once.
    """
    settings = runtime.settings
    poll = settings.revisit_poll_seconds if isinstance(settings, EvaluationSettings) else 60.0
    batch = settings.revisit_batch_size if isinstance(settings, EvaluationSettings) else 500
    while True:
        try:
            resumed = await resume_due_ideas(runtime, batch=batch)
            if resumed:
                log.info("resumed %d paused idea(s) whose revisit date came", resumed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("revisit timer pass failed; next pass in %.0f s", poll)
        await asyncio.sleep(poll)
