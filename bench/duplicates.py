"""Intake's group registration as a tenant grows, with the likely-duplicate search and without.

    .venv/bin/python -m bench.duplicates [--ideas 10000] [--group 20] [--words 19] [--postgres]
                                         [--text zipf|pipeline]

Registers ``--ideas`` ideas in one tenant through ``handlers.submit_ideas``, ``--group`` at a
time (one transaction each, as intake's group commit does; on PostgreSQL with an
``ANALYZE``, outside the timings, whenever the tenant has grown by a tenth, as autovacuum
would), with text drawn from a vocabulary of 20,000 made-up words at Zipf-like frequencies
(a word's share falls as one over its rank): the mix of a few very common words, many
middling ones and a long tail that real text has, and that decides the duplicate search's
cost. The benchmark's own ideas of
``bench.pipeline`` share three words and differ in one, which hides it; ``--text pipeline``
registers those instead (a title of a number and six hexadecimal digits, whose runs of three
or more letters are the one word that differs), to see what that benchmark's intake meets.

The same ideas go into two fresh databases side by side, a group to each in turn: one with
the tenant's usual duplicate policy, one with the search switched off (``limit`` 0; the
peer: everything else a registration writes). Prints, for each fifth of the ideas, the time
an idea of each and their ratio. Bounded by ``--ideas``; never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ideabank_infra.db import Database
from ideabank_infra.testing import create_postgres_database, embedded_postgres
from ideabank_intake import handlers
from ideabank_intake.store import metadata, org_units

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "dy", "gö", "hä", "bå", "pe", "fi"]
TENANT = "bench"


def vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Made-up words (four syllables and a final consonant, which no stemming rule
    strips) and their Zipf-like weights."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(4)) + rng.choice("tkpd"))
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered, [1 / (rank + 10) for rank in range(size)]


async def prepare(url: str) -> Database:
    db = Database(url)
    await db.create_all(metadata)
    async with db.transaction() as conn:
        await conn.execute(
            org_units.insert(),
            [
                {
                    "tenant": TENANT,
                    "id": "unit",
                    "kind": "unit",
                    "name": "Enhet",
                    "parent_id": None,
                    "administration_id": "unit",
                    "active": True,
                }
            ],
        )
    return db


async def run(args: argparse.Namespace, urls: tuple[str, str]) -> None:
    rng = random.Random(1)
    words, weights = vocabulary(rng)

    title_words = max(1, args.words // 4)

    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights, k=n))

    def idea(n: int) -> handlers.NewIdea:
        if args.text == "pipeline":
            title, description, problem = (
                f"Idé {n} {rng.getrandbits(24):06x}",
                f"Beskrivning {n}",
                f"Problem {n}",
            )
        else:
            title, description, problem = (
                text(title_words),
                text(args.words - 2 * title_words),
                text(title_words),
            )
        return handlers.NewIdea(
            title=title,
            description=description,
            problem=problem,
            category="bench",
            channel="staff_portal",
            org_unit_id="unit",
            giver_id="giver",
        )

    search, plain = await prepare(urls[0]), await prepare(urls[1])
    policies = {"search": handlers.DuplicatePolicy(), "plain": handlers.DuplicatePolicy(limit=0)}
    spent = {"search": 0.0, "plain": 0.0}
    stage = max(args.group, args.ideas // 5)
    done = since = analyzed = 0
    now = datetime.now(UTC)
    print(
        f"submit_ideas, groups of {args.group}, "
        f"{'pipeline text' if args.text == 'pipeline' else f'about {args.words} words an idea'} "
        f"({'PostgreSQL' if args.postgres else 'SQLite'}); µs an idea over each stage:"
    )
    print(f"  {'ideas in the tenant':>20}  {'with the search':>16}  {'without':>10}  ratio")
    try:
        while done < args.ideas:
            new = [idea(done + n) for n in range(args.group)]
            for name, db in (("search", search), ("plain", plain)):
                group = [handlers.Submission(TENANT, n, now, policies[name]) for n in new]
                started = time.perf_counter()
                async with db.transaction() as conn:
                    await handlers.submit_ideas(conn, group)
                spent[name] += time.perf_counter() - started
            done += args.group
            since += args.group
            if args.postgres and done >= 1.1 * analyzed + 500:
                # As autovacuum would: its ANALYZE follows a table's growth by a tenth. A
                # plan made from the statistics of a far smaller table measures the planner.
                for db in (search, plain):
                    async with db.engine.connect() as conn:
                        await conn.exec_driver_sql("ANALYZE")
                analyzed = done
            if since >= stage or done >= args.ideas:
                n, since = since, 0
                a, b = 1e6 * spent["search"] / n, 1e6 * spent["plain"] / n
                print(f"  {done:>20,}  {a:>16,.0f}  {b:>10,.0f}  {a / b:5.1f}×", flush=True)
                spent = {"search": 0.0, "plain": 0.0}
    finally:
        await search.dispose()
        await plain.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--ideas", type=int, default=10_000, help="ideas registered in all")
    parser.add_argument("--group", type=int, default=20, help="ideas a transaction")
    parser.add_argument("--words", type=int, default=19, help="words an idea, about")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    parser.add_argument(
        "--text",
        choices=("zipf", "pipeline"),
        default="zipf",
        help="Zipf-like text (default), or bench.pipeline's short ideas",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ideabank-bench-duplicates-"))
    try:
        if not args.postgres:
            await run(
                args,
                (f"sqlite+aiosqlite:///{tmp}/search.db", f"sqlite+aiosqlite:///{tmp}/plain.db"),
            )
            return
        pg, admin = embedded_postgres(tmp / "pg")
        try:
            urls = (await create_postgres_database(admin), await create_postgres_database(admin))
            await run(args, urls)
        finally:
            pg.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
