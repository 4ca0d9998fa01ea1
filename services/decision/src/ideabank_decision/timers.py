"""Background work: deferred ideas return to their decision queue on the revisit date."""

from __future__ import annotations

import asyncio
import logging

from ideabank_infra.app import Runtime

from ideabank_decision import handlers
from ideabank_decision.settings import DecisionSettings

log = logging.getLogger(__name__)


async def resume_due_ideas(runtime: Runtime) -> int:
    """Resume every deferred idea whose revisit date has come; return how many this replica moved.

    Safe in several replicas: each idea moves in its own transaction by a conditional UPDATE,
    so only one replica emits its `idea.resumed`.
    """
    today = runtime.clock.today()
    async with runtime.db.engine.connect() as conn:
        due = await handlers.due_for_resumption(conn, today=today)
    moved = 0
    for tenant, idea_id in due:
        async with runtime.db.transaction() as conn:
            if await handlers.resume_deferred(
                conn, tenant=tenant, idea_id=idea_id, today=today, now=runtime.clock.now()
            ):
                moved += 1
    if moved:
        log.info("resumed %d deferred idea(s)", moved)
    return moved


async def revisit_deferred(runtime: Runtime) -> None:
    """Forever: check for due deferred ideas every ``revisit_poll_seconds``."""
    settings = runtime.settings
    interval = settings.revisit_poll_seconds if isinstance(settings, DecisionSettings) else 60.0
    while True:
        try:
            await resume_due_ideas(runtime)
        except Exception:
            log.exception("resuming deferred ideas failed; trying again next round")
        await asyncio.sleep(interval)
