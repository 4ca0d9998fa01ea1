"""The ``ideabank`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("IDEABANK_DATA_DIR", "data"))


def cmd_up(args: argparse.Namespace) -> int:
    """Start the whole platform in the foreground."""
    from ideabank_cli.platform import parse_ports, up

    nats_port = args.nats_port or int(os.environ.get("IDEABANK_NATS_PORT", "4222"))
    return up(
        _data_dir(args.data_dir),
        parse_ports(args.ports),
        nats_port,
        demo=not args.no_demo,
        demo_ideas=not args.no_demo_ideas,
    )


def cmd_token(args: argparse.Namespace) -> int:
    """Print a signed token for a (demo) person."""
    from ideabank_infra.issuer import ROLES, LocalIssuer

    from ideabank_cli.demo_org import find_person

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        print(
            f"unknown role(s): {', '.join(unknown)}; known: {', '.join(sorted(ROLES))}",
            file=sys.stderr,
        )
        return 2
    org_unit = args.org_unit
    if args.person and org_unit is None:
        found = find_person(args.person)
        if found and found[0] == args.tenant:
            org_unit = found[1].org_unit_id
    issuer = LocalIssuer(_data_dir(args.data_dir) / "issuer")
    print(
        issuer.mint(
            tenant=args.tenant,
            roles=roles,
            person=args.person,
            org_unit=org_unit,
            ttl_seconds=args.ttl,
        )
    )
    return 0


def cmd_deadletters(args: argparse.Namespace) -> int:
    """List or replay dead-lettered events."""
    from ideabank_infra.deadletter import list_dead_letters, replay_dead_letters
    from ideabank_infra.messaging import connect

    async def run() -> int:
        nc = await connect(args.nats_url, "ideabank-cli")
        js = nc.jetstream()
        try:
            if args.action == "list":
                entries = await list_dead_letters(js, args.consumer)
                if not entries:
                    print("No dead letters.")
                for e in entries:
                    print(
                        f"#{e.seq} {e.failed_at} consumer={e.consumer} type={e.event_type} "
                        f"id={e.event_id} deliveries={e.deliveries}\n    error: {e.error}"
                    )
            else:
                replayed = await replay_dead_letters(js, args.consumer, args.event_id)
                for e in replayed:
                    print(f"replayed #{e.seq} {e.event_type} {e.event_id} → {e.original_subject}")
                print(f"{len(replayed)} dead letter(s) replayed.")
            return 0
        finally:
            await nc.close()

    return asyncio.run(run())


def cmd_contracts(args: argparse.Namespace) -> int:
    """Generate or check the JSON Schemas and the AsyncAPI document."""
    import ideabank_contracts.generate as generate

    root = Path(args.root)
    if args.action == "check":
        problems = generate.check_all(root)
        for p in problems:
            print(p)
        return 1 if problems else 0
    generate.write_all(root)
    print(f"wrote {root / 'schemas'} and {root / 'asyncapi.json'}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild a service's read model from the event stream into a fresh database."""
    from ideabank_cli.replay import default_target, replay_reporting

    return replay_reporting(
        nats_url=args.nats_url,
        database_url=args.database_url or default_target(_data_dir(args.data_dir)),
        tenants=[t.strip() for t in (args.tenants or "").split(",") if t.strip()],
        batch_size=args.batch_size,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="ideabank", description="Ideabank platform command")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start NATS, the five services and the portal with demo data")
    p.add_argument("--data-dir", help="where databases, NATS and logs live (default: ./data)")
    p.add_argument("--ports", help="e.g. intake=9001,portal=9000 (defaults 8000-8005)")
    p.add_argument("--nats-port", type=int, help="NATS client port (default 4222)")
    p.add_argument("--no-demo", action="store_true", help="do not load demo data")
    p.add_argument(
        "--no-demo-ideas", action="store_true", help="load demo organisations but no ideas"
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("token", help="print a token of the local issuer for a demo person")
    p.add_argument("--tenant", required=True, help="tenant slug, e.g. boras")
    p.add_argument("--roles", required=True, help="comma-separated roles, e.g. employee,ambassador")
    p.add_argument("--person", help="person id (the token's sub), e.g. boras-p012")
    p.add_argument("--org-unit", help="org unit id (default: the demo person's)")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    p.add_argument("--data-dir", help="data folder holding the issuer key (default: ./data)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("deadletters", help="list or replay events consumers gave up on")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--consumer", help="only this consumer's dead letters")
    p.add_argument("--event-id", help="replay only this event")
    p.add_argument(
        "--nats-url", default=os.environ.get("IDEABANK_NATS_URL", "nats://127.0.0.1:4222")
    )
    p.set_defaults(func=cmd_deadletters)

    p = sub.add_parser("contracts", help="generate or check event schemas and AsyncAPI")
    p.add_argument("action", choices=["generate", "check"])
    p.add_argument("--root", default="contracts", help="the contracts folder")
    p.set_defaults(func=cmd_contracts)

    p = sub.add_parser("replay", help="rebuild a read model from the stream into a fresh database")
    p.add_argument("service", choices=["reporting"])
    p.add_argument(
        "--nats-url", default=os.environ.get("IDEABANK_NATS_URL", "nats://127.0.0.1:4222")
    )
    p.add_argument("--data-dir", help="where the new SQLite file goes (default: ./data)")
    p.add_argument("--database-url", help="rebuild into this (empty) database instead")
    p.add_argument("--tenants", help="only these tenants, comma-separated (default: all)")
    p.add_argument("--batch-size", type=int, default=2000, help="events per transaction")
    p.set_defaults(func=cmd_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ideabank``."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
