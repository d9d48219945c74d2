# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the collection tarball, install it, and check that every module's documentation loads from it."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.build

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "fleetops"
NAME = "release"
BIN_DIR = Path(sys.executable).parent
# Paths that must never be shipped in the tarball (first path components inside the collection).
FORBIDDEN_PREFIXES = (".venv", "build", "dist", "tests/output", ".git", ".cache", ".pytest_cache", ".hypothesis", ".ansible")


def _tool(name: str) -> str:
    """Return the path of an ansible CLI next to the running interpreter (the project's .venv)."""
    candidate = BIN_DIR / name
    return str(candidate) if candidate.exists() else name


def _isolated_env(collections_path: Path) -> dict[str, str]:
    """Environment that sees only the given collections path (not the working tree's ansible.cfg, which points
    at build/collections, where the checkout itself is linked in)."""
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ANSIBLE_FORCE_COLOR", None)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command; cwd must be outside the working tree so that its ansible.cfg is not read."""
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300)


def _module_names() -> list[str]:
    modules_dir = COLLECTION_ROOT / "plugins" / "modules"
    if not modules_dir.is_dir():
        return []
    return sorted(p.stem for p in modules_dir.glob("*.py") if p.stem != "__init__")


def _short_description(module: str) -> str:
    """Read short_description from the module's DOCUMENTATION string without importing the module."""
    path = COLLECTION_ROOT / "plugins" / "modules" / f"{module}.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets):
            try:
                doc = yaml.safe_load(ast.literal_eval(node.value))
            except yaml.YAMLError as exc:
                raise AssertionError(f"DOCUMENTATION of {path} is not valid YAML: {exc}") from exc
            return str(doc["short_description"])
    raise AssertionError(f"{path} has no DOCUMENTATION string")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the collection into a temporary directory and return the tarball's path."""
    out_dir = tmp_path_factory.mktemp("dist")
    cmd = [_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out_dir), str(COLLECTION_ROOT)]
    result = _run(cmd, cwd=out_dir, env=_isolated_env(out_dir))
    assert result.returncode == 0, f"ansible-galaxy collection build failed:\n{result.stdout}\n{result.stderr}"
    tarballs = list(out_dir.glob(f"{NAMESPACE}-{NAME}-*.tar.gz"))
    assert len(tarballs) == 1, f"expected one tarball in {out_dir}, found {tarballs}"
    return tarballs[0]


@pytest.fixture(scope="module")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the tarball into a temporary collections path and return that path."""
    collections_path = tmp_path_factory.mktemp("collections")
    cmd = [_tool("ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(collections_path), str(tarball)]
    result = _run(cmd, cwd=collections_path, env=_isolated_env(collections_path))
    assert result.returncode == 0, f"ansible-galaxy collection install failed:\n{result.stdout}\n{result.stderr}"
    manifest = collections_path / "ansible_collections" / NAMESPACE / NAME / "MANIFEST.json"
    assert manifest.is_file(), f"{manifest} missing after install:\n{result.stdout}\n{result.stderr}"
    return collections_path


def test_tarball_excludes_local_state(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = [member.name.removeprefix("./") for member in tar.getmembers()]
    assert "MANIFEST.json" in names
    assert "FILES.json" in names
    leaked = [n for n in names if any(n == p or n.startswith(p + "/") for p in FORBIDDEN_PREFIXES)]
    assert not leaked, f"the tarball ships local state: {leaked}"
    leaked = [n for n in names if "__pycache__" in n.split("/") or n.endswith(".pyc")]
    assert not leaked, f"the tarball ships bytecode: {leaked}"


def test_tarball_ships_every_module(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = {member.name.removeprefix("./") for member in tar.getmembers()}
    missing = [m for m in _module_names() if f"plugins/modules/{m}.py" not in names]
    assert not missing, f"modules missing from the tarball: {missing}"


def test_collection_has_modules() -> None:
    assert _module_names(), "plugins/modules/ has no modules"


def test_ansible_doc_lists_every_module(installed: Path) -> None:
    listing = _run([_tool("ansible-doc"), "-t", "module", "--list", "--json", f"{NAMESPACE}.{NAME}"], env=_isolated_env(installed), cwd=installed)
    assert listing.returncode == 0, f"ansible-doc --list failed:\n{listing.stdout}\n{listing.stderr}"
    listed = json.loads(listing.stdout)
    missing = [m for m in _module_names() if f"{NAMESPACE}.{NAME}.{m}" not in listed]
    assert not missing, f"ansible-doc --list does not show: {missing}"


@pytest.mark.parametrize("module", _module_names())
def test_ansible_doc_from_installed_collection(module: str, installed: Path) -> None:
    fqcn = f"{NAMESPACE}.{NAME}.{module}"
    env = _isolated_env(installed)
    installed_file = str(installed / "ansible_collections" / NAMESPACE / NAME / "plugins" / "modules" / f"{module}.py")

    text = _run([_tool("ansible-doc"), "-t", "module", fqcn], env=env, cwd=installed)
    assert text.returncode == 0, f"ansible-doc {fqcn} failed:\n{text.stdout}\n{text.stderr}"
    assert f"> MODULE {fqcn} ({installed_file})" in text.stdout, f"ansible-doc {fqcn} did not read the installed collection:\n{text.stdout}"

    as_json = _run([_tool("ansible-doc"), "-t", "module", "--json", fqcn], env=env, cwd=installed)
    assert as_json.returncode == 0, f"ansible-doc --json {fqcn} failed:\n{as_json.stdout}\n{as_json.stderr}"
    doc = json.loads(as_json.stdout)[fqcn]["doc"]
    assert doc["short_description"] == _short_description(module)
