"""Service boundaries: each service depends only on contracts and infra, never on another service."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
PACKAGES = {name: f"ideabank_{name}" for name in SERVICES}
SHARED = {"ideabank_contracts", "ideabank_infra"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_there_are_services() -> None:
    assert {"intake", "evaluation", "decision", "notification", "reporting"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_no_other_service(service: str) -> None:
    others = {pkg for name, pkg in PACKAGES.items() if name != service} | {"ideabank_cli"}
    offenders = []
    for path in (ROOT / "services" / service).rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        bad = imported_modules(path) & others
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("service", SERVICES)
def test_service_depends_only_on_shared_packages(service: str) -> None:
    meta = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    deps = [*meta["project"].get("dependencies", [])]
    for extra in meta["project"].get("optional-dependencies", {}).values():
        deps += extra
    ours = {d.split("[")[0].split(">")[0].split("=")[0].strip() for d in deps}
    ours = {d for d in ours if d.startswith("ideabank-")}
    assert ours <= {"ideabank-contracts", "ideabank-infra"}, ours


def test_shared_packages_import_no_service() -> None:
    services = set(PACKAGES.values()) | {"ideabank_cli"}
    offenders = []
    for pkg in ("contracts", "infra"):
        for path in (ROOT / pkg).rglob("*.py"):
            bad = imported_modules(path) & services
            if bad:
                offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert not offenders, "\n".join(offenders)


def test_contracts_have_no_behaviour_dependencies() -> None:
    meta = tomllib.loads((ROOT / "contracts" / "pyproject.toml").read_text())
    assert [d.split(">")[0] for d in meta["project"]["dependencies"]] == ["pydantic"]


def test_boundary_check_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from ideabank_intake.store import metadata\nimport ideabank_decision\n")
    assert {"ideabank_intake", "ideabank_decision"} <= imported_modules(bad)
