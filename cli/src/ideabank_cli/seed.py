"""Load demo data through the services' public APIs, as any client would."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from ideabank_infra.issuer import LocalIssuer

from ideabank_cli.demo_org import demo_tenants


def seed_demo(data_dir: Path, ports: dict[str, int], with_ideas: bool = True) -> None:
    """Load the five municipalities and their ideas once; marker files make later starts skip it."""
    marker = data_dir / "demo-seeded"
    ideas_marker = data_dir / "demo-ideas-loaded"
    if marker.exists():
        if with_ideas and not ideas_marker.exists():
            _load_ideas(data_dir, ports, ideas_marker)
        else:
            print("Demo data already loaded.", flush=True)
        return
    issuer = LocalIssuer(data_dir / "issuer")
    started = time.monotonic()
    with httpx.Client(base_url=f"http://127.0.0.1:{ports['intake']}", timeout=60) as client:
        for tenant in demo_tenants():
            slug = tenant.municipality.slug
            admin = tenant.person_with("tenant_admin")
            token = issuer.mint(tenant=slug, roles=["tenant_admin"], person=admin.id)
            resp = client.put(
                "/v1/admin/tenancy",
                json=tenant.document,
                headers={"Authorization": f"Bearer {token}"},
            )
            if resp.status_code != 200:
                raise SystemExit(
                    f"demo data for {slug} was refused: {resp.status_code} {resp.text}"
                )
            changed = sum(resp.json()["changed"].values())
            print(
                f"  demo: {tenant.municipality.name:<22} {len(tenant.people):>3} people, "
                f"{changed} tenancy events",
                flush=True,
            )
    marker.write_text("ok\n")
    print(f"Demo organisations loaded in {time.monotonic() - started:.1f}s.", flush=True)
    if with_ideas:
        _load_ideas(data_dir, ports, ideas_marker)


def _load_ideas(data_dir: Path, ports: dict[str, int], marker: Path) -> None:
    from ideabank_cli.demo_ideas import load_demo_ideas

    started = time.monotonic()
    print("Loading demo ideas with a few years of history (once; about a minute)…", flush=True)
    try:
        count = load_demo_ideas(data_dir, ports, demo_tenants())
    except KeyboardInterrupt:
        # Stopped while loading (Ctrl-C): keep what was loaded. Loading all of it again at
        # the next start would give every idea loaded so far a twin.
        marker.write_text("partial\n")
        print(
            "\n  demo ideas: stopped while loading; the ideas loaded so far are kept.", flush=True
        )
        return
    except Exception as exc:
        # The platform is usable without them; say what went wrong and go on.
        print(f"\n  demo ideas could not be loaded completely: {exc}", flush=True)
        return
    marker.write_text("ok\n")
    print(f"{count} demo ideas loaded in {time.monotonic() - started:.1f}s.", flush=True)


if __name__ == "__main__":
    import json
    import sys

    seed_demo(Path(sys.argv[1]), json.loads(sys.argv[2]), with_ideas=sys.argv[3] == "ideas")
