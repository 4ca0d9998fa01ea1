"""Intake's use cases. Each runs inside the caller's transaction and writes its state,
its events (outbox) and its audit rows together, so nothing is ever half-written."""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ideabank_contracts import CloudEvent, EventData, new_event, new_id, parse_data
from ideabank_contracts.events import idea as ev
from ideabank_contracts.events import tenancy as tev
from ideabank_contracts.events.deviations import DeviationRegistered
from ideabank_infra.consumer import DeadLetter
from ideabank_infra.db import insert_rows, value_list
from ideabank_infra.outbox import enqueue
from ideabank_infra.problems import Problem, conflict, forbidden, invalid, not_found
from ideabank_infra.tables import audit_log
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from ideabank_intake.domain import ideas as rules
from ideabank_intake.domain import similarity
from ideabank_intake.store import (
    ambassadors,
    comments,
    idea_people,
    idea_token_rows,
    idea_tokens,
    ideas,
    insert_ignore,
    load_idea,
    org_units,
    people,
    public_contacts,
    replace_tokens,
    supports,
    tenants,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "/ideabank/intake"
#: Stored ideas (and as many of its own group) an idea is compared with: those that share
#: the most of its rare words. More only costs time.
DUPLICATE_CANDIDATES = 200
DUPLICATE_MAX_POSTINGS = 500  # words in more ideas than this do not find candidates
DUPLICATE_QUERY_WORDS = 12


@dataclass(frozen=True)
class DuplicatePolicy:
    """How similar an idea must be, and how many are shown, to count as a likely duplicate."""

    threshold: float = 0.3
    limit: int = 5


@dataclass(frozen=True)
class NewIdea:
    """What a new idea holds, whichever channel it came through."""

    title: str
    description: str
    problem: str
    category: str
    channel: str
    org_unit_id: str | None = None
    proposed_solution: str | None = None
    expected_benefit: str | None = None
    co_author_ids: tuple[str, ...] = ()
    anonymous: bool = False
    language: str | None = None
    giver_id: str | None = None
    source_system: str | None = None
    source_id: str | None = None
    source_ref: str | None = None
    source_url: str | None = None
    origin_tenant: str | None = None
    origin_idea_id: str | None = None
    network: str | None = None
    contact_email: str | None = None


@dataclass
class Submitted:
    """The stored idea and the likely duplicates pointed out for it."""

    idea: dict[str, Any]
    duplicates: list[dict[str, Any]] = field(default_factory=list)


# --- events and audit --------------------------------------------------------------------


async def record(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str | None,
    items: Sequence[tuple[EventData, str]],
    now: datetime,
    source: str = SOURCE,
) -> list[CloudEvent]:
    """Queue events (data, aggregate id) in the outbox and audit each, in the open transaction."""
    events = [
        new_event(data, tenant=tenant, subject=subject, source=source, time=now)
        for data, subject in items
    ]
    if not events:
        return events
    await _record_events(conn, tenant, [(e, actor_id) for e in events])
    return events


async def _record_events(
    conn: AsyncConnection, tenant: str, events: Sequence[tuple[CloudEvent, str | None]]
) -> None:
    """Queue events in the outbox and audit each with its actor: two statements in all."""
    if not events:
        return
    await enqueue(conn, [e for e, _ in events])
    await insert_rows(
        conn,
        audit_log,
        [
            {
                "tenant": tenant,
                "actor_id": actor_id,
                "action": f"{e.aggregate}.{e.event}",
                "subject": e.subject[:64],
                "event_id": e.id,
                "detail": None,
                "at": e.time,
            }
            for e, actor_id in events
        ],
    )


async def audit(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str | None,
    action: str,
    subject: str | None,
    now: datetime,
    event_id: str | None = None,
    detail: str | None = None,
) -> None:
    """One audit row for a change that emits no event of its own."""
    await conn.execute(
        audit_log.insert().values(
            tenant=tenant,
            actor_id=actor_id,
            action=action,
            subject=subject[:64] if subject else None,
            event_id=event_id,
            detail=detail,
            at=now,
        )
    )


# --- submission and assignment -----------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One idea to register, as :func:`submit_ideas` takes it."""

    tenant: str
    new: NewIdea
    now: datetime
    policy: DuplicatePolicy
    idea_id: str | None = None


async def submit_idea(
    conn: AsyncConnection,
    *,
    tenant: str,
    new: NewIdea,
    now: datetime,
    policy: DuplicatePolicy,
    idea_id: str | None = None,
) -> Submitted:
    """Register one idea (see :func:`submit_ideas`); a refusal is raised."""
    [result] = await submit_ideas(conn, [Submission(tenant, new, now, policy, idea_id)])
    if isinstance(result, Exception):
        raise result
    return result


# The statements of a submission group, built once: building a SELECT and its cache key
# costs about 50 µs, and a group runs five of them whatever its size.
_UNITS_OF = select(org_units.c.id, org_units.c.administration_id).where(
    org_units.c.tenant == bindparam("tenant"),
    org_units.c.id.in_(bindparam("ids", expanding=True)),
)
_AMBASSADORS_OF = select(ambassadors.c.administration_id, ambassadors.c.person_id).where(
    ambassadors.c.tenant == bindparam("tenant"),
    ambassadors.c.administration_id.in_(bindparam("ids", expanding=True)),
)
#: Each word's ideas, by "is PostgreSQL": one row a word, its ideas joined by the unit
#: separator (a character no id holds). A row a posting cost more to fetch than to find.
#: Each word's ideas are read in the key's own order up to the cap (only rare words, which
#: have fewer, are asked for), as in ``count_postings`` and for the same reason: that order
#: is the index's, whatever PostgreSQL's statistics lead it to expect. A GROUP BY over
#: ``token = ANY(...)`` scanned the tenant's postings instead: 150 ms a group at 6,000 ideas.
_POSTINGS = {
    False: text(
        "SELECT w.value AS token, (SELECT group_concat(p.idea_id, char(31)) FROM"
        " (SELECT t.idea_id FROM idea_tokens AS t WHERE t.tenant = :tenant"
        " AND t.token = w.value ORDER BY t.idea_id LIMIT :cap) AS p) AS ids"
        " FROM json_each(:tokens) AS w"
    ),
    True: text(
        "SELECT w.value AS token, (SELECT string_agg(p.idea_id, chr(31)) FROM"
        " (SELECT t.idea_id FROM idea_tokens AS t WHERE t.tenant = :tenant"
        " AND t.token = w.value ORDER BY t.idea_id LIMIT :cap) AS p) AS ids"
        " FROM unnest(CAST(:tokens AS text[])) AS w(value)"
    ),
}
# By primary key only; whether a candidate is still open is looked at in Python. With the
# status in the WHERE clause, SQLite (which keeps no statistics here) reads the tenant's
# every open idea through (tenant, status) instead: 23 ms instead of 3 for 500 candidates
# among 60,000 ideas, in each group commit. The ids come as one list, so the statement's
# text is the same for any number of them (an expanding IN was rendered and prepared anew
# each time: 14 instead of 8 µs a candidate). On SQLite, CROSS JOIN keeps the list as the
# outer loop; joined plainly, SQLite walked the tenant's ideas by date and looked each up in
# the list (180 ms for 100 ids among 20,000 ideas). On PostgreSQL the array is joined to
# the key: with a list of 2,000 values the planner, expecting most of the tenant's rows,
# scanned them (42 ms a statement at 6,000 ideas).
_CANDIDATES: dict[bool, Executable] = {
    False: text(
        "SELECT i.id, i.title, i.status, i.token_count"
        " FROM json_each(:ids) AS c CROSS JOIN ideas AS i ON i.tenant = :tenant AND i.id = c.value"
    ),
    True: text(
        "SELECT i.id, i.title, i.status, i.token_count"
        " FROM unnest(CAST(:ids AS text[])) AS c(id)"
        " JOIN ideas AS i ON i.tenant = :tenant AND i.id = c.id"
    ),
}
#: Which (word, idea) pairs of a list are postings, one probe of the key a pair, by "is
#: PostgreSQL". Only the pairs asked about are probed: a statement over some ideas and some
#: words probes their product, and the queries of a group each ask about their own. On
#: PostgreSQL each pair is a subquery of its own (LIMIT keeps it one): joined, the planner
#: hashed the tenant's postings, a scan of all of them, when its statistics made that look
#: cheap.
_SHARED_WORDS = {
    False: text(
        "SELECT p.value ->> 0 AS token, p.value ->> 1 AS idea_id FROM json_each(:pairs) AS p"
        " CROSS JOIN idea_tokens AS t"
        " ON t.tenant = :tenant AND t.token = p.value ->> 0 AND t.idea_id = p.value ->> 1"
    ),
    True: text(
        "SELECT p.token, p.idea_id"
        " FROM unnest(CAST(:tokens AS text[]), CAST(:ids AS text[])) AS p(token, idea_id)"
        " CROSS JOIN LATERAL (SELECT 1 FROM idea_tokens AS t WHERE t.tenant = :tenant"
        " AND t.token = p.token AND t.idea_id = p.idea_id LIMIT 1) AS hit"
    ),
}


async def submit_ideas(
    conn: AsyncConnection, batch: Sequence[Submission]
) -> list[Submitted | Exception]:
    """Register ideas, point out likely duplicates, and assign each whose ambassador is known.

    A whole batch costs a fixed number of statements: the look-ups are made once for all
    ideas and the rows written with one INSERT per table. An idea that is refused (an
    unknown org unit or co-author) gets its problem in its place and writes nothing; an
    idea sees the ideas before it in the batch as possible duplicates.
    """
    results: list[Submitted | Exception | None] = [None] * len(batch)
    by_tenant: dict[str, list[int]] = {}
    for i, s in enumerate(batch):
        by_tenant.setdefault(s.tenant, []).append(i)
    for tenant, indexes in by_tenant.items():
        await _submit_for_tenant(conn, tenant, [(i, batch[i]) for i in indexes], results)
    done = [r for r in results if r is not None]
    assert len(done) == len(batch), "every submission gets a result"
    return done


async def _submit_for_tenant(
    conn: AsyncConnection,
    tenant: str,
    items: list[tuple[int, Submission]],
    results: list[Submitted | Exception | None],
) -> None:
    unit_ids = sorted({s.new.org_unit_id for _, s in items if s.new.org_unit_id})
    units = {
        r.id: r.administration_id
        for r in await conn.execute(_UNITS_OF, {"tenant": tenant, "ids": unit_ids})
    }
    known = await _known_people(
        conn, tenant, {p for _, s in items for p in s.new.co_author_ids if p != s.new.giver_id}
    )
    accepted: list[tuple[int, Submission, str, tuple[str, ...]]] = []
    for i, s in items:
        try:
            unit_id = _check_unit(s.new.org_unit_id, units)
            co_authors = _require_co_authors(s.new.co_author_ids, s.new.giver_id, known)
        except Problem as exc:
            results[i] = exc
        else:
            accepted.append((i, s, unit_id, co_authors))
    if not accepted:
        return
    administrations = sorted({units[u] for _, _, u, _ in accepted})
    ambassador_of = {
        r.administration_id: r.person_id
        for r in await conn.execute(_AMBASSADORS_OF, {"tenant": tenant, "ids": administrations})
    }
    idea_ids = [s.idea_id or new_id() for _, s, _, _ in accepted]
    words = [
        similarity.tokens(s.new.title, s.new.description, s.new.problem) for _, s, _, _ in accepted
    ]
    assigned = [ambassador_of.get(units[u]) for _, _, u, _ in accepted]
    statuses = [rules.IN_SCREENING if a else rules.SUBMITTED for a in assigned]
    duplicates = await find_duplicates(
        conn,
        tenant=tenant,
        queries=[
            (idea_id, w, s.policy)
            for idea_id, w, (_, s, _, _) in zip(idea_ids, words, accepted, strict=True)
        ],
        batch={
            idea_id: (s.new.title, status)
            for idea_id, status, (_, s, _, _) in zip(idea_ids, statuses, accepted, strict=True)
        },
    )
    rows: list[dict[str, Any]] = []
    authors: list[dict[str, Any]] = []
    token_rows: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    events: list[tuple[CloudEvent, str | None]] = []
    for (i, s, unit_id, co_authors), idea_id, w, dups, ambassador, status in zip(
        accepted, idea_ids, words, duplicates, assigned, statuses, strict=True
    ):
        new, now = s.new, s.now
        administration_id = units[unit_id]
        row = _idea_row(
            tenant,
            idea_id,
            new,
            unit_id,
            administration_id,
            co_authors,
            now,
            status=status,
            ambassador_id=ambassador,
            possible_duplicate_ids=[d["id"] for d in dups],
            token_count=len(w),
        )
        rows.append(row)
        authors.extend(_author_rows(tenant, idea_id, new.giver_id, co_authors))
        token_rows.extend(idea_token_rows(tenant, idea_id, w))
        if new.contact_email:
            contacts.append({"tenant": tenant, "idea_id": idea_id, "email": new.contact_email})
        data: list[EventData] = [_submitted(row, new, dups)]
        if ambassador:
            data.append(_assigned(idea_id, ambassador, administration_id, now))
        events.extend(
            (new_event(d, tenant=tenant, subject=idea_id, source=SOURCE, time=now), new.giver_id)
            for d in data
        )
        results[i] = Submitted(idea=row, duplicates=dups)
    await insert_rows(conn, ideas, rows)
    await insert_rows(conn, idea_people, authors)
    await insert_rows(conn, idea_tokens, token_rows)
    await insert_rows(conn, public_contacts, contacts)
    await _record_events(conn, tenant, events)


def _check_unit(org_unit_id: str | None, units: dict[str, str]) -> str:
    if org_unit_id is None:
        raise invalid("org_unit_id", "an org unit is required")
    if org_unit_id not in units:
        raise invalid("org_unit_id", f"no org unit {org_unit_id!r} in this tenant")
    return org_unit_id


def _require_co_authors(
    ids: Sequence[str], giver_id: str | None, known: set[str]
) -> tuple[str, ...]:
    for i, person_id in enumerate(ids):
        if person_id != giver_id and person_id not in known:
            raise invalid(f"co_author_ids[{i}]", f"no person {person_id!r} in this tenant")
    return tuple(dict.fromkeys(i for i in ids if i != giver_id))


def _idea_row(
    tenant: str,
    idea_id: str,
    new: NewIdea,
    unit_id: str,
    administration_id: str,
    co_authors: tuple[str, ...],
    now: datetime,
    *,
    status: str,
    ambassador_id: str | None,
    possible_duplicate_ids: list[str],
    token_count: int,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "id": idea_id,
        "title": new.title,
        "description": new.description,
        "problem": new.problem,
        "proposed_solution": new.proposed_solution,
        "expected_benefit": new.expected_benefit,
        "org_unit_id": unit_id,
        "administration_id": administration_id,
        "category": new.category,
        "channel": new.channel,
        "language": new.language,
        "giver_id": new.giver_id,
        "anonymous": new.anonymous,
        "co_author_ids": list(co_authors),
        "status": status,
        "screened": False,
        "ambassador_id": ambassador_id,
        "source_system": new.source_system,
        "source_id": new.source_id,
        "source_ref": new.source_ref,
        "source_url": new.source_url,
        "origin_tenant": new.origin_tenant,
        "origin_idea_id": new.origin_idea_id,
        "network": new.network,
        "merged_into_id": None,
        "possible_duplicate_ids": possible_duplicate_ids,
        "token_count": token_count,
        "comments_count": 0,
        "supports_count": 0,
        "submitted_at": now,
        "updated_at": now,
    }


def _submitted(row: dict[str, Any], new: NewIdea, dups: list[dict[str, Any]]) -> EventData:
    return ev.IdeaSubmitted(
        idea_id=row["id"],
        actor_id=new.giver_id,
        org_unit_id=row["org_unit_id"],
        administration_id=row["administration_id"],
        category=new.category,
        channel=ev.Channel(new.channel),
        title=new.title,
        description=new.description,
        problem=new.problem,
        proposed_solution=new.proposed_solution,
        expected_benefit=new.expected_benefit,
        co_author_ids=tuple(row["co_author_ids"]),
        anonymous=new.anonymous,
        source_ref=new.source_ref,
        source_system=new.source_system,
        language=new.language,
        possible_duplicate_ids=tuple(d["id"] for d in dups),
        origin_tenant=new.origin_tenant,
        origin_idea_id=new.origin_idea_id,
        network=new.network,
        submitted_at=row["submitted_at"],
    )


def _assigned(idea_id: str, ambassador: str, administration_id: str, now: datetime) -> EventData:
    return ev.IdeaAssigned(
        idea_id=idea_id,
        ambassador_id=ambassador,
        administration_id=administration_id,
        assigned_at=now,
    )


async def assign_waiting_ideas(
    conn: AsyncConnection,
    *,
    tenant: str,
    administration_id: str,
    ambassador_id: str,
    now: datetime,
) -> int:
    """Give every idea of an administration still waiting for an ambassador to ``ambassador_id``."""
    waiting = [
        r.id
        for r in await conn.execute(
            select(ideas.c.id).where(
                ideas.c.tenant == tenant,
                ideas.c.administration_id == administration_id,
                ideas.c.status == rules.SUBMITTED,
            )
        )
    ]
    if not waiting:
        return 0
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id.in_(waiting))
        .values(status=rules.IN_SCREENING, ambassador_id=ambassador_id, updated_at=now)
    )
    await record(
        conn,
        tenant=tenant,
        actor_id=None,
        items=[(_assigned(i, ambassador_id, administration_id, now), i) for i in waiting],
        now=now,
    )
    return len(waiting)


async def find_duplicates(
    conn: AsyncConnection,
    *,
    tenant: str,
    queries: Sequence[tuple[str, frozenset[str], DuplicatePolicy]],
    batch: dict[str, tuple[str, str]] | None = None,
) -> list[list[dict[str, Any]]]:
    """For each (idea id, words, policy), in order, the open ideas most like it.

    Candidates are the stored ideas of the tenant and, when ``batch`` gives their
    (title, status), the ideas before it in ``queries`` that are being registered with
    it. The look-ups are made once for all queries.
    """
    out: list[list[dict[str, Any]]] = [[] for _ in queries]
    sets = [frozenset(w[:100] for w in words) for _, words, _ in queries]
    active = {k for k, (_, _, policy) in enumerate(queries) if sets[k] and policy.limit > 0}
    if not active:
        return out
    everything = sorted(set().union(*(sets[k] for k in active)))
    postgres = conn.dialect.name == "postgresql"
    postings: dict[str, set[str]] = {}
    async with _in_key_order(conn):  # the words' counts and the rare words' postings
        stored = Counter(await count_postings(conn, tenant, everything))
        rare = _rare_words(queries, sets, active, stored, batch)
        for chunk in _chunks(sorted({t for few in rare.values() for t in few if stored[t]})):
            params = {
                "tenant": tenant,
                "tokens": value_list(conn.dialect.name, chunk),
                "cap": DUPLICATE_MAX_POSTINGS,
            }
            for row in await conn.execute(_POSTINGS[postgres], params):
                if row.ids:
                    postings[row.token] = set(row.ids.split("\x1f"))
    picked: dict[int, Counter[str]] = {}
    rest: dict[int, frozenset[str]] = {}
    for k, few in rare.items():
        hits: Counter[str] = Counter()
        for t in few:
            hits.update(postings.get(t, ()))
        hits.pop(queries[k][0], None)
        picked[k] = Counter(dict(hits.most_common(DUPLICATE_CANDIDATES)))
        # The query's other words whose postings were read (rare words of other queries).
        for t in sets[k].difference(few).intersection(postings):
            for i in postings[t].intersection(picked[k]):
                picked[k][i] += 1
        rest[k] = frozenset(t for t in sets[k] if stored[t] and t not in postings)
    # Ideas of this batch are candidates for the ones after them, found through the same
    # rare words (never by comparing every pair of the batch). Their words are known.
    in_batch: dict[int, list[tuple[str, int, int]]] = {}
    shown: dict[str, dict[str, str]] = {}
    earlier: dict[str, list[int]] = {}
    for k, (idea_id, _, _) in enumerate(queries):
        if k in rare:
            shared_rare: Counter[int] = Counter(j for t in rare[k] for j in earlier.get(t, ()))
            near = [j for j, _ in shared_rare.most_common(DUPLICATE_CANDIDATES)]
            in_batch[k] = [(queries[j][0], len(sets[j] & sets[k]), len(sets[j])) for j in near]
        if batch is not None and idea_id in batch:
            for t in sets[k]:
                earlier.setdefault(t, []).append(k)
            title, status = batch[idea_id]
            shown[idea_id] = {"title": title, "status": status}
    sizes = await _settle_the_best(conn, tenant, queries, picked, rest, in_batch, shown)
    for k in rare:
        policy = queries[k][2]
        candidates = [(i, n, sizes[i]) for i, n in picked[k].items()] + in_batch[k]
        best = similarity.best_matches(
            len(queries[k][1]), candidates, threshold=policy.threshold, limit=policy.limit
        )
        out[k] = [{"id": i, **shown[i], "score": score} for i, score in best]
    return out


def _rare_words(
    queries: Sequence[tuple[str, frozenset[str], DuplicatePolicy]],
    sets: list[frozenset[str]],
    active: set[int],
    stored: Counter[str],
    batch: dict[str, tuple[str, str]] | None,
) -> dict[int, list[str]]:
    """Each active query's rarest words (at most a dozen, in at most ``DUPLICATE_MAX_POSTINGS``
    ideas, counting the batch's ideas before it), the ones its candidates come through; a
    query without one has none. A word that hundreds of ideas share says little about
    duplicates, and its postings would make each look-up slower."""
    rare: dict[int, list[str]] = {}
    before: Counter[str] = Counter()
    for k, words in enumerate(sets):
        if k in active:
            few = sorted(
                (t for t in words if 0 < stored[t] + before[t] <= DUPLICATE_MAX_POSTINGS),
                key=lambda t: (stored[t] + before[t], t),
            )[:DUPLICATE_QUERY_WORDS]
            if few:
                rare[k] = few
        if batch is not None and queries[k][0] in batch:
            before.update(words)
    return rare


async def _settle_the_best(
    conn: AsyncConnection,
    tenant: str,
    queries: Sequence[tuple[str, frozenset[str], DuplicatePolicy]],
    counted: dict[int, Counter[str]],
    rest: dict[int, frozenset[str]],
    exact: dict[int, list[tuple[str, int, int]]],
    shown: dict[str, dict[str, str]],
) -> dict[str, int]:
    """Learn what decides the scores of those candidates of query ``k`` that may be among
    its best, and drop the others from ``counted[k]``; return the open ones' sizes (and
    fill ``shown`` with their title and status).

    ``counted[k][i]`` is a lower bound of candidate ``i``'s words in common with the query
    until ``rest[k]``, the query's words whose postings were not read, is looked up for it.
    Its size (and whether it is still open) comes with its row. Until both are known, its
    score is bounded: at most what it would have with every word of ``rest[k]`` and no
    other word (a size of what it shares); at least what the words counted give with its
    size. The best ``limit`` go by (score, id). A candidate whose best hope falls behind
    ``limit`` others' sure scores (the batch's candidates in ``exact`` among them), or
    below the threshold, cannot be shown. The most hopeful ``limit`` of each query are
    settled first, then every candidate still in the running: where many ideas say the
    same, five rows and their words are read, not all of them.
    """
    sizes: dict[str, int] = {}
    read: set[str] = set()
    done = {k: set() if rest[k] else set(found) for k, found in counted.items()}

    def hopeful(k: int, first: bool) -> list[str]:
        """Drop query ``k``'s candidates that cannot be among its best; return the most
        hopeful ``limit`` of those still to settle (all of them unless ``first``)."""
        found, policy, size = counted[k], queries[k][2], len(queries[k][1])
        missing, settled = len(rest[k]), done[k]
        memo: dict[tuple[int, int], float] = {}

        def score(shared: int, other: int) -> float:
            key = (shared, other)
            value = memo.get(key)
            if value is None:
                value = memo[key] = -round(similarity.jaccard(shared, size, other), 3)
            return value

        bar = (-policy.threshold, "\U0010ffff")  # below the threshold
        if sizes or exact[k]:
            sure = heapq.nsmallest(
                policy.limit,
                [(score(n, sizes[i]), i) for i, n in found.items() if i in sizes]
                + [(score(n, other), i) for i, n, other in exact[k]],
            )
            if len(sure) == policy.limit:
                bar = min(bar, sure[-1])
        hopes: list[tuple[float, str]] = []
        for i, n in list(found.items()):
            at_most = n if i in settled else min(n + missing, size)
            other = sizes.get(i)
            if other is not None:
                hope = (score(min(at_most, other), other), i)
            elif i in read:  # no longer open
                del found[i]
                continue
            else:
                hope = (score(at_most, at_most), i)
            if hope > bar:
                del found[i]
            elif other is None or i not in settled:
                hopes.append(hope)
        if first:
            hopes = heapq.nsmallest(policy.limit, hopes)
        return [i for _, i in hopes]

    for first in (True, False):
        rows = {i for k in counted for i in hopeful(k, first) if i not in read}
        for chunk in _chunks(sorted(rows)):
            params = {"tenant": tenant, "ids": value_list(conn.dialect.name, chunk)}
            for row in await conn.execute(_CANDIDATES[conn.dialect.name == "postgresql"], params):
                if row.status in rules.OPEN_FOR_DUPLICATES:
                    sizes[row.id] = int(row.token_count)
                    shown[row.id] = {"title": row.title, "status": row.status}
        read.update(rows)
        # With their sizes known, fewer may still be among the best.
        words = {
            k: [i for i in hopeful(k, first) if i in sizes and i not in done[k]] for k in counted
        }
        await _add_other_words(conn, tenant, counted, rest, words)
        for k, ids in words.items():
            done[k].update(ids)
    for found in counted.values():
        for i in [i for i in found if i not in sizes]:
            del found[i]
    return sizes


async def _add_other_words(
    conn: AsyncConnection,
    tenant: str,
    counted: dict[int, Counter[str]],
    rest: dict[int, frozenset[str]],
    asked: dict[int, list[str]],
) -> None:
    """Add to ``counted[k][i]``, candidate ``i``'s words in common with query ``k`` so far,
    for each ``i`` in ``asked[k]``, its words in ``rest[k]``: the query's words whose
    postings were not read (too common to read all their ideas, or rare ones beyond the
    rarest dozen). Each (word, candidate) pair is one probe of the postings' key, all of a
    group's in one statement.
    """
    pairs = sorted({(t, i) for k, ids in asked.items() for i in ids for t in rest[k]})
    has: dict[str, set[str]] = {}
    postgres = conn.dialect.name == "postgresql"
    for chunk in _chunks(pairs, 10_000):
        params = shared_words_params(conn.dialect.name, tenant, chunk)
        for row in await conn.execute(_SHARED_WORDS[postgres], params):
            has.setdefault(row.idea_id, set()).add(row.token)
    for k, ids in asked.items():
        words, candidates = rest[k], counted[k]
        for i in ids:
            found = has.get(i)
            if found:
                candidates[i] += len(found & words)


def shared_words_params(
    dialect: str, tenant: str, pairs: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The parameters of ``_SHARED_WORDS`` for (word, idea) ``pairs``: two arrays on
    PostgreSQL, one JSON list of pairs on SQLite."""
    if dialect == "postgresql":
        return {"tenant": tenant, "tokens": [t for t, _ in pairs], "ids": [i for _, i in pairs]}
    return {"tenant": tenant, "pairs": json.dumps(list(pairs))}


async def count_postings(
    conn: AsyncConnection, tenant: str, words: Sequence[str]
) -> dict[str, int]:
    """Each word's number of ideas in the tenant, counted up to the rarity cap plus one.

    Only whether a word is rare matters, and a plain count of a common word's postings
    reads all of them: a cost that grew with the tenant's ideas, on every submission.
    """
    postgres = conn.dialect.name == "postgresql"
    counted: dict[str, int] = {}
    for chunk in _chunks(words):
        params = {
            "tenant": tenant,
            "words": value_list(conn.dialect.name, chunk),
            "cap": DUPLICATE_MAX_POSTINGS + 1,
        }
        for row in await conn.execute(_COUNT_POSTINGS[postgres], params):
            counted[row.token] = int(row.n)
    return counted


@asynccontextmanager
async def _in_key_order(conn: AsyncConnection) -> AsyncIterator[None]:
    """On PostgreSQL, no bitmap scans meanwhile: a word's postings are read in the key's
    order, and stop at the cap.

    Planning a statement for each word of a list, PostgreSQL cannot know the word and takes
    the tenant's average word: with a vocabulary of many rare words and a few very common
    ones, as real text has, a couple of postings. For that few it chose a bitmap scan and a
    sort, which reads every posting of a common word before the LIMIT: 6 ms a word with
    13,500 postings, against 0.15 ms for the first 501 in the key's order.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    was = (await conn.execute(_BITMAP_SCANS_OFF)).scalar_one()
    yield
    # Set for this transaction only (an error ends it, and the setting with it).
    await conn.execute(_BITMAP_SCANS, {"was": was})


_BITMAP_SCANS_OFF = text(
    "SELECT current_setting('enable_bitmapscan') AS was,"
    " set_config('enable_bitmapscan', 'off', true) AS now"
)
_BITMAP_SCANS = text("SELECT set_config('enable_bitmapscan', :was, true)")


# The ORDER BY is the primary key's own order, free on its index. Without it, PostgreSQL,
# once it has statistics of a tenant whose few words each fill many postings, expects any
# word to reach the cap soon and scans the table for it: for a rare word (most of them)
# that is the whole table, 88 ms for 40 words among 45,000 postings instead of 0.3 ms.
_COUNTED = (
    "SELECT w.value AS token, (SELECT count(*) FROM (SELECT 1 FROM idea_tokens AS t"
    " WHERE t.tenant = :tenant AND t.token = w.value ORDER BY t.idea_id LIMIT :cap) AS p)"
    " AS n FROM "
)
#: The statement of :func:`count_postings`, by "is PostgreSQL".
_COUNT_POSTINGS = {
    False: text(_COUNTED + "json_each(:words) AS w"),
    True: text(_COUNTED + "unnest(CAST(:words AS text[])) AS w(value)"),
}


def _chunks(values: Sequence[T], size: int = 2000) -> list[Sequence[T]]:
    """Pieces of a long list of values, below every driver's limit on bound parameters."""
    return [values[i : i + size] for i in range(0, len(values), size)]


async def _ambassador_of(conn: AsyncConnection, tenant: str, administration_id: str) -> str | None:
    row = (
        await conn.execute(
            select(ambassadors.c.person_id).where(
                ambassadors.c.tenant == tenant,
                ambassadors.c.administration_id == administration_id,
            )
        )
    ).first()
    return row.person_id if row else None


async def _check_co_authors(
    conn: AsyncConnection, tenant: str, ids: Sequence[str], giver_id: str | None
) -> tuple[str, ...]:
    known = await _known_people(conn, tenant, {i for i in ids if i != giver_id})
    return _require_co_authors(ids, giver_id, known)


async def _known_people(conn: AsyncConnection, tenant: str, ids: set[str]) -> set[str]:
    """Those of ``ids`` that are people of the tenant (no query for none)."""
    if not ids:
        return set()
    stmt = select(people.c.id).where(people.c.tenant == tenant, people.c.id.in_(ids))
    return set((await conn.execute(stmt)).scalars())


async def _write_authors(
    conn: AsyncConnection,
    tenant: str,
    idea_id: str,
    giver_id: str | None,
    co_authors: Sequence[str],
) -> None:
    await conn.execute(
        idea_people.delete().where(idea_people.c.tenant == tenant, idea_people.c.idea_id == idea_id)
    )
    rows = _author_rows(tenant, idea_id, giver_id, co_authors)
    if rows:
        await conn.execute(idea_people.insert(), rows)


def _author_rows(
    tenant: str, idea_id: str, giver_id: str | None, co_authors: Sequence[str]
) -> list[dict[str, Any]]:
    rows = [
        {"tenant": tenant, "idea_id": idea_id, "person_id": p, "role": "co_author"}
        for p in co_authors
    ]
    if giver_id:
        rows.append({"tenant": tenant, "idea_id": idea_id, "person_id": giver_id, "role": "giver"})
    return rows


def _state(row: Row[Any]) -> rules.IdeaState:
    return rules.IdeaState(status=row.status, screened=bool(row.screened))


def _rule_conflict(exc: rules.RuleBroken) -> Problem:
    return conflict(exc.message, exc.field)


# --- the idea giver's acts ---------------------------------------------------------------

#: Fields the idea giver may revise, in the order the revision event lists them.
REVISABLE = (
    "title",
    "description",
    "problem",
    "proposed_solution",
    "expected_benefit",
    "org_unit_id",
    "category",
    "co_author_ids",
)


async def revise_idea(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str,
    idea_id: str,
    changes: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Edit an idea before screening starts (idea giver or co-author only)."""
    row = await load_idea(conn, tenant, idea_id, lock=True)
    if row is None:
        raise not_found("idea")
    if actor_id != row.giver_id and actor_id not in (row.co_author_ids or []):
        raise forbidden("only the idea giver or a co-author may edit the idea")
    try:
        rules.check_edit(_state(row))
    except rules.RuleBroken as exc:
        raise _rule_conflict(exc) from exc
    current = dict(row._mapping)
    values: dict[str, Any] = {}
    for name in REVISABLE:
        if name not in changes:
            continue
        value = changes[name]
        if name in ("title", "description", "problem", "category", "org_unit_id") and value is None:
            raise invalid(name, "may not be empty")
        if name == "co_author_ids":
            value = list(await _check_co_authors(conn, tenant, value or [], row.giver_id))
        if value != current[name]:
            values[name] = value
    if "org_unit_id" in values:
        unit = (
            await conn.execute(
                select(org_units.c.administration_id).where(
                    org_units.c.tenant == tenant, org_units.c.id == values["org_unit_id"]
                )
            )
        ).first()
        if unit is None:
            raise invalid("org_unit_id", f"no org unit {values['org_unit_id']!r} in this tenant")
        if unit.administration_id != row.administration_id:
            values["administration_id"] = unit.administration_id
    if not values:
        return current
    after = {**current, **values, "updated_at": now}
    items: list[tuple[EventData, str]] = []
    if "administration_id" in values:
        # Another administration screens it now: its ambassador, or nobody yet.
        ambassador = await _ambassador_of(conn, tenant, values["administration_id"])
        after["ambassador_id"] = ambassador
        after["status"] = rules.IN_SCREENING if ambassador else rules.SUBMITTED
    words = similarity.tokens(after["title"], after["description"], after["problem"])
    after["token_count"] = len(words)
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
        .values(
            {k: after[k] for k in (*values, "updated_at", "token_count", "ambassador_id", "status")}
        )
    )
    if {"title", "description", "problem"} & values.keys():
        await replace_tokens(conn, tenant, idea_id, words)
    if "co_author_ids" in values:
        await _write_authors(conn, tenant, idea_id, row.giver_id, after["co_author_ids"])
    items.append(
        (
            ev.IdeaRevised(
                idea_id=idea_id,
                actor_id=actor_id,
                org_unit_id=after["org_unit_id"],
                administration_id=after["administration_id"],
                category=after["category"],
                title=after["title"],
                description=after["description"],
                problem=after["problem"],
                proposed_solution=after["proposed_solution"],
                expected_benefit=after["expected_benefit"],
                co_author_ids=tuple(after["co_author_ids"]),
                changed_fields=tuple(n for n in REVISABLE if n in values),
                revised_at=now,
            ),
            idea_id,
        )
    )
    if "administration_id" in values and after["ambassador_id"]:
        items.append(
            (_assigned(idea_id, after["ambassador_id"], after["administration_id"], now), idea_id)
        )
    await record(conn, tenant=tenant, actor_id=actor_id, items=items, now=now)
    return after


async def withdraw_idea(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str,
    idea_id: str,
    reason: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The idea giver withdraws the idea, at any time before a decision."""
    row = await load_idea(conn, tenant, idea_id, lock=True)
    if row is None:
        raise not_found("idea")
    if actor_id != row.giver_id:
        raise forbidden("only the idea giver may withdraw the idea")
    try:
        rules.check_withdraw(_state(row))
    except rules.RuleBroken as exc:
        raise _rule_conflict(exc) from exc
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
        .values(status=rules.WITHDRAWN, updated_at=now)
    )
    data = ev.IdeaWithdrawn(
        idea_id=idea_id,
        actor_id=actor_id,
        previous_status=ev.IdeaStatus(row.status),
        reason=reason,
        withdrawn_at=now,
    )
    await record(conn, tenant=tenant, actor_id=actor_id, items=[(data, idea_id)], now=now)
    return {**dict(row._mapping), "status": rules.WITHDRAWN, "updated_at": now}


# --- everyone's acts ---------------------------------------------------------------------


async def comment_on_idea(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str,
    idea_id: str,
    body: str,
    reply_to_comment_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Anyone of the tenant comments on an idea."""
    if await load_idea(conn, tenant, idea_id, lock=True) is None:
        raise not_found("idea")
    if reply_to_comment_id is not None:
        parent = (
            await conn.execute(
                select(comments.c.id).where(
                    comments.c.tenant == tenant,
                    comments.c.idea_id == idea_id,
                    comments.c.id == reply_to_comment_id,
                )
            )
        ).first()
        if parent is None:
            raise invalid("reply_to_comment_id", "no such comment on this idea")
    row = {
        "tenant": tenant,
        "id": new_id(),
        "idea_id": idea_id,
        "author_id": actor_id,
        "body": body,
        "reply_to_comment_id": reply_to_comment_id,
        "redacted": False,
        "created_at": now,
    }
    await conn.execute(comments.insert().values(**row))
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
        .values(comments_count=ideas.c.comments_count + 1)
    )
    data = ev.IdeaCommented(
        idea_id=idea_id,
        actor_id=actor_id,
        comment_id=row["id"],
        body=body,
        reply_to_comment_id=reply_to_comment_id,
        commented_at=now,
    )
    await record(conn, tenant=tenant, actor_id=actor_id, items=[(data, idea_id)], now=now)
    return row


async def support_idea(
    conn: AsyncConnection, *, tenant: str, actor_id: str, idea_id: str, now: datetime
) -> tuple[bool, int]:
    """Anyone of the tenant supports an idea, once; returns (new support?, supports count)."""
    row = await load_idea(conn, tenant, idea_id, lock=True)
    if row is None:
        raise not_found("idea")
    added = await insert_ignore(
        conn,
        supports,
        {"tenant": tenant, "idea_id": idea_id, "person_id": actor_id, "created_at": now},
        ["tenant", "idea_id", "person_id"],
    )
    if not added:
        return False, int(row.supports_count)
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
        .values(supports_count=ideas.c.supports_count + 1)
    )
    data = ev.IdeaSupported(idea_id=idea_id, actor_id=actor_id, supported_at=now)
    await record(conn, tenant=tenant, actor_id=actor_id, items=[(data, idea_id)], now=now)
    return True, int(row.supports_count) + 1


async def merge_idea(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str,
    actor_roles: frozenset[str],
    idea_id: str,
    into_idea_id: str,
    motivation: str | None,
    now: datetime,
) -> dict[str, Any]:
    """An ambassador of the idea's administration (or the innovation group) merges a duplicate."""
    # Lock in id order so two opposite merges cannot deadlock.
    locked = {}
    for i in sorted({idea_id, into_idea_id}):
        locked[i] = await load_idea(conn, tenant, i, lock=True)
    row = locked[idea_id]
    if row is None:
        raise not_found("idea")
    if "innovation_group" not in actor_roles:
        ambassador = await _ambassador_of(conn, tenant, row.administration_id)
        if "ambassador" not in actor_roles or ambassador != actor_id:
            raise forbidden("only the ambassador of the idea's administration may merge it")
    target = locked[into_idea_id]
    if target is None:
        raise invalid("into_idea_id", "no such idea in this tenant")
    try:
        rules.check_merge(_state(row), _state(target), same_idea=idea_id == into_idea_id)
    except rules.RuleBroken as exc:
        raise _rule_conflict(exc) from exc
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
        .values(status=rules.MERGED, merged_into_id=into_idea_id, updated_at=now)
    )
    data = ev.IdeaMerged(
        idea_id=idea_id,
        actor_id=actor_id,
        into_idea_id=into_idea_id,
        motivation=motivation,
        merged_at=now,
    )
    await record(conn, tenant=tenant, actor_id=actor_id, items=[(data, idea_id)], now=now)
    return {
        **dict(row._mapping),
        "status": rules.MERGED,
        "merged_into_id": into_idea_id,
        "updated_at": now,
    }


# --- what other systems and services tell intake -----------------------------------------


async def first_administration(conn: AsyncConnection, tenant: str) -> str | None:
    """The tenant's first administration (by id): where unaddressed ideas go."""
    row = (
        await conn.execute(
            select(org_units.c.id)
            .where(org_units.c.tenant == tenant, org_units.c.kind == "administration")
            .order_by(org_units.c.id)
            .limit(1)
        )
    ).first()
    return row.id if row else None


async def _known_unit(conn: AsyncConnection, tenant: str, *candidates: str | None) -> str | None:
    for unit_id in candidates:
        if unit_id is None:
            continue
        found = (
            await conn.execute(
                select(org_units.c.id).where(
                    org_units.c.tenant == tenant, org_units.c.id == unit_id
                )
            )
        ).first()
        if found is not None:
            return unit_id
    return await first_administration(conn, tenant)


async def tenant_exists(conn: AsyncConnection, tenant: str) -> bool:
    """Whether the tenant is registered."""
    row = (await conn.execute(select(tenants.c.tenant).where(tenants.c.tenant == tenant))).first()
    return row is not None


async def on_deviation_registered(
    conn: AsyncConnection, event: CloudEvent, *, now: datetime, policy: DuplicatePolicy
) -> None:
    """A deviation with a suggestion becomes exactly one idea (channel ``deviation``)."""
    data = DeviationRegistered.model_validate(event.data)
    tenant = event.tenant
    existing = (
        await conn.execute(
            select(ideas.c.id).where(
                ideas.c.tenant == tenant,
                ideas.c.source_system == data.source_system,
                ideas.c.source_id == data.deviation_id,
            )
        )
    ).first()
    if existing is not None:
        return
    unit = await _known_unit(conn, tenant, data.org_unit_id)
    if unit is None:
        raise DeadLetter(f"tenant {tenant!r} has no org units to put the deviation under")
    # The same deviation always gets the same idea id, so a redelivery cannot fork it.
    idea_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{data.source_system}/{data.deviation_id}")
    )
    new = NewIdea(
        title=data.title,
        description=data.description,
        problem=data.description,
        proposed_solution=data.suggested_improvement,
        category=data.category or "deviation",
        channel=ev.Channel.DEVIATION.value,
        org_unit_id=unit,
        source_system=data.source_system,
        source_id=data.deviation_id,
        source_ref=data.deviation_id,
        source_url=str(data.url) if data.url else None,
    )
    await submit_idea(conn, tenant=tenant, new=new, now=now, policy=policy, idea_id=idea_id)


async def on_idea_adopted(
    conn: AsyncConnection, event: CloudEvent, *, now: datetime, policy: DuplicatePolicy
) -> None:
    """An adoption becomes a new idea of the adopting tenant that remembers its origin."""
    data = ev.IdeaAdopted.model_validate(event.data)
    tenant = event.tenant
    if await load_idea(conn, tenant, data.idea_id) is not None:
        return
    # The origin idea's text lives in this same service (other tenant's rows); the people
    # involved are never copied, only what the origin offered to the network.
    origin = await load_idea(conn, data.origin_tenant, data.origin_idea_id)
    title = data.title or (origin.title if origin else None) or "Adopted idea"
    description = (
        data.summary
        or (origin.description if origin else None)
        or f"Adopted from {data.origin_tenant} through the network {data.network}"
    )
    unit = await _known_unit(conn, tenant, data.org_unit_id, data.administration_id)
    if unit is None:
        raise DeadLetter(f"tenant {tenant!r} has no org units to put the adopted idea under")
    new = NewIdea(
        title=title,
        description=description,
        problem=(origin.problem if origin else None) or description,
        proposed_solution=origin.proposed_solution if origin else None,
        expected_benefit=origin.expected_benefit if origin else None,
        category=data.category or (origin.category if origin else None) or "network",
        channel=ev.Channel.NETWORK.value,
        org_unit_id=unit,
        giver_id=data.actor_id,
        origin_tenant=data.origin_tenant,
        origin_idea_id=data.origin_idea_id,
        network=data.network,
    )
    await submit_idea(conn, tenant=tenant, new=new, now=now, policy=policy, idea_id=data.idea_id)


async def on_status_event(conn: AsyncConnection, event: CloudEvent, *, now: datetime) -> None:
    """Follow another service's status change so intake's rules and filters stay current."""
    data = parse_data(event)
    idea_id = getattr(data, "idea_id", None)
    if idea_id is None:
        return
    row = await load_idea(conn, event.tenant, idea_id, lock=True)
    if row is None:
        log.warning("status event %s for unknown idea %s/%s", event.type, event.tenant, idea_id)
        return
    kind = f"{event.aggregate}.{event.event}"
    outcome = getattr(data, "outcome", None)
    to_status = getattr(data, "to_status", None)
    before = _state(row)
    after = rules.project_status(
        before,
        kind,
        outcome=str(outcome.value) if outcome is not None else None,
        to_status=str(to_status.value) if to_status is not None else None,
    )
    if after == before:
        return
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == event.tenant, ideas.c.id == idea_id)
        .values(status=after.status, screened=after.screened, updated_at=now)
    )
    await audit(
        conn,
        tenant=event.tenant,
        actor_id=getattr(data, "actor_id", None),
        action=f"status.{after.status}",
        subject=idea_id,
        event_id=event.id,
        detail=f"{before.status} -> {after.status} by {kind}",
        now=now,
    )


# --- personal data (SPEC §8) -------------------------------------------------------------


def pseudonym(tenant: str, person_id: str) -> str:
    """The stable stand-in for an erased person's id."""
    digest = hashlib.sha256(f"{tenant}/{person_id}".encode()).hexdigest()[:16]
    return f"erased-{digest}"


async def export_person(conn: AsyncConnection, *, tenant: str, person_id: str) -> dict[str, Any]:
    """Everything intake holds about a person: their record, ideas, comments and supports."""
    person = (
        await conn.execute(
            select(people).where(people.c.tenant == tenant, people.c.id == person_id)
        )
    ).first()
    authored = select(idea_people.c.idea_id).where(
        idea_people.c.tenant == tenant, idea_people.c.person_id == person_id
    )
    idea_rows = await conn.execute(
        select(ideas)
        .where(ideas.c.tenant == tenant, ideas.c.id.in_(authored))
        .order_by(ideas.c.submitted_at)
    )
    comment_rows = await conn.execute(
        select(comments)
        .where(comments.c.tenant == tenant, comments.c.author_id == person_id)
        .order_by(comments.c.created_at)
    )
    support_rows = await conn.execute(
        select(supports.c.idea_id, supports.c.created_at).where(
            supports.c.tenant == tenant, supports.c.person_id == person_id
        )
    )
    skip = {"tenant", "token_count"}
    return {
        "person": {k: v for k, v in person._mapping.items() if k != "tenant"} if person else None,
        "ideas": [
            {
                **{k: v for k, v in r._mapping.items() if k not in skip},
                "role": "giver" if r.giver_id == person_id else "co_author",
            }
            for r in idea_rows
        ],
        "comments": [{k: v for k, v in r._mapping.items() if k != "tenant"} for r in comment_rows],
        "supports": [dict(r._mapping) for r in support_rows],
    }


async def erase_person(
    conn: AsyncConnection, *, tenant: str, person_id: str, actor_id: str, now: datetime
) -> dict[str, Any]:
    """Replace a person by a pseudonym everywhere in intake and blank their comments."""
    alias = pseudonym(tenant, person_id)
    affected: set[str] = set()
    for stmt in (
        select(idea_people.c.idea_id).where(
            idea_people.c.tenant == tenant, idea_people.c.person_id == person_id
        ),
        select(comments.c.idea_id).where(
            comments.c.tenant == tenant, comments.c.author_id == person_id
        ),
        select(supports.c.idea_id).where(
            supports.c.tenant == tenant, supports.c.person_id == person_id
        ),
        select(ideas.c.id).where(ideas.c.tenant == tenant, ideas.c.ambassador_id == person_id),
    ):
        affected.update(r[0] for r in await conn.execute(stmt))
    person = (
        await conn.execute(
            select(people).where(people.c.tenant == tenant, people.c.id == person_id)
        )
    ).first()
    if person is None and not affected:
        raise not_found("person")
    for row in await conn.execute(
        select(ideas.c.id, ideas.c.co_author_ids).where(
            ideas.c.tenant == tenant, ideas.c.id.in_(sorted(affected))
        )
    ):
        co_authors = list(row.co_author_ids or [])
        if person_id in co_authors:
            await conn.execute(
                update(ideas)
                .where(ideas.c.tenant == tenant, ideas.c.id == row.id)
                .values(co_author_ids=[alias if p == person_id else p for p in co_authors])
            )
    base = (ideas.c.tenant == tenant,)
    await conn.execute(
        update(ideas).where(*base, ideas.c.giver_id == person_id).values(giver_id=alias)
    )
    await conn.execute(
        update(ideas).where(*base, ideas.c.ambassador_id == person_id).values(ambassador_id=alias)
    )
    await conn.execute(
        update(idea_people)
        .where(idea_people.c.tenant == tenant, idea_people.c.person_id == person_id)
        .values(person_id=alias)
    )
    await conn.execute(
        update(comments)
        .where(comments.c.tenant == tenant, comments.c.author_id == person_id)
        .values(author_id=alias, body="", redacted=True)
    )
    await conn.execute(
        update(supports)
        .where(supports.c.tenant == tenant, supports.c.person_id == person_id)
        .values(person_id=alias)
    )
    request_id = new_id()
    items: list[tuple[EventData, str]] = [
        (
            ev.IdeaRedacted(
                idea_id=idea_id,
                actor_id=actor_id,
                person_id=person_id,
                erasure_request_id=request_id,
                redacted_at=now,
            ),
            idea_id,
        )
        for idea_id in sorted(affected)
    ]
    if person is not None and person.active:
        # The directory keeps the id (other services' projections key on it) but loses
        # the name and address; person.updated tells every service to do the same.
        redacted = {"name": "Raderad person", "email": f"{alias}@erased.invalid", "active": False}
        await conn.execute(
            update(people)
            .where(people.c.tenant == tenant, people.c.id == person_id)
            .values(**redacted)
        )
        items.append(
            (
                tev.PersonUpdated(
                    person_id=person_id,
                    name=redacted["name"],
                    email=redacted["email"],
                    language=person.language,
                    org_unit_id=person.org_unit_id,
                    roles=tuple(tev.Role(r) for r in person.roles),
                    active=False,
                ),
                person_id,
            )
        )
    await record(conn, tenant=tenant, actor_id=actor_id, items=items, now=now)
    return {
        "person_id": person_id,
        "pseudonym": alias,
        "ideas": sorted(affected),
        "erasure_request_id": request_id,
    }
