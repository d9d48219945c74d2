# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The execution environment: what the collection declares for an EE (meta/execution-environment.yml), what
ansible-builder makes of the built collection (introspect), and the EE definition extensions/ee/ (create).

ansible-builder needs no container engine for either: introspect reads installed collections, create validates the
definition and writes the build context (a Containerfile and _build/). Building the image is not tested here.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EE_DEFINITION = REPO / "extensions" / "ee" / "execution-environment.yml"
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"

# Import names that differ from the name of the package that provides them (meta/ee-requirements.txt lists packages).
IMPORT_NAMES = {"pyyaml": "yaml", "psycopg-binary": "psycopg", "psycopg2-binary": "psycopg2"}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{path} is missing: run `make deps` (requirements.txt pins it)"
    return str(path)


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run outside the working tree, so that its ansible.cfg (collections under build/) is not read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _lines(path: Path) -> list[str]:
    """The entries of a requirements or bindep file: lines without comments and blanks."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _pin(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (REPO / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"requirements.txt pins no {package}"
    return match.group(1)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = _run([_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)], cwd=out)
    assert result.returncode == 0, f"ansible-galaxy collection build failed:\n{result.stdout}\n{result.stderr}"
    return out / TARBALL_NAME


def test_the_collection_declares_its_ee_dependencies() -> None:
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta == {"version": 1, "dependencies": {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}}
    assert "tzdata" in _lines(REPO / "meta" / "ee-bindep.txt")
    assert any(line.startswith("openssh-client") for line in _lines(REPO / "meta" / "ee-bindep.txt"))


def test_ee_requirements_cover_every_import_of_the_plugins() -> None:
    """Each module the plugins import is the standard library's, ansible-core's (with PyYAML, its dependency), the
    collection's own, or provided by a package of meta/ee-requirements.txt: nothing else would be in the EE."""
    declared = set()
    for requirement in _lines(REPO / "meta" / "ee-requirements.txt"):
        package = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        declared.add(IMPORT_NAMES.get(package, package.replace("-", "_")))
    allowed = set(sys.stdlib_module_names) | {"ansible", "ansible_collections", "yaml", "__future__"} | declared
    missing = {}
    for path in sorted((REPO / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name.split(".")[0] not in allowed:
                    missing.setdefault(name.split(".")[0], []).append(str(path.relative_to(REPO)))
    assert not missing, f"imported but not in meta/ee-requirements.txt: {missing}"


def test_the_tarball_ships_the_ee_metadata_but_not_the_test_tooling(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = {member.name.removeprefix("./") for member in tar.getmembers()}
    assert "requirements.txt" not in names, "the root requirements.txt (test tooling) ships in the tarball"
    assert {"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"} <= names


def test_introspect_lists_exactly_the_declared_dependencies(tarball: Path, tmp_path: Path) -> None:
    collections = tmp_path / "collections"
    result = _run([_tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)], cwd=tmp_path)
    assert result.returncode == 0, f"install failed:\n{result.stdout}\n{result.stderr}"
    result = _run([_tool("ansible-builder"), "introspect", "--sanitize", str(collections)], cwd=tmp_path)
    assert result.returncode == 0, f"ansible-builder introspect failed:\n{result.stdout}\n{result.stderr}"
    found = yaml.safe_load(result.stdout)
    origin = f"from collection {GALAXY['namespace']}.{GALAXY['name']}"
    for kind, declared in (("python", "ee-requirements.txt"), ("system", "ee-bindep.txt")):
        entries = found.get(kind) or []
        assert all(entry.endswith(f"# {origin}") for entry in entries), entries
        listed = [entry.split("#", 1)[0].strip() for entry in entries]
        assert sorted(listed) == sorted(_lines(REPO / "meta" / declared)), f"{kind}: introspect lists {listed}"


def _definition() -> dict:
    return yaml.safe_load(EE_DEFINITION.read_text(encoding="utf-8"))


def test_ee_definition_follows_galaxy_yml_and_the_pins() -> None:
    definition = _definition()
    assert definition["version"] == 3
    assert definition["dependencies"]["ansible_core"] == {"package_pip": f"ansible-core=={_pin('ansible-core')}"}
    assert definition["dependencies"]["ansible_runner"] == {"package_pip": f"ansible-runner=={_pin('ansible-runner')}"}
    assert definition["dependencies"]["galaxy"] == {"collections": [{"name": f"/build/collections/{TARBALL_NAME}", "type": "file"}]}
    assert definition["additional_build_files"] == [{"src": f"../../dist/{TARBALL_NAME}", "dest": "collections"}]


def _ee_tree(tmp_path: Path, tarball: Path, definition: dict | None = None) -> Path:
    """extensions/ee/execution-environment.yml and dist/<tarball> in the layout of the repository, in tmp_path."""
    (tmp_path / "extensions" / "ee").mkdir(parents=True)
    (tmp_path / "dist").mkdir()
    shutil.copy(tarball, tmp_path / "dist" / tarball.name)
    target = tmp_path / "extensions" / "ee" / "execution-environment.yml"
    if definition is None:
        shutil.copy(EE_DEFINITION, target)
    else:
        target.write_text(yaml.safe_dump(definition), encoding="utf-8")
    return target


def test_ansible_builder_creates_the_build_context(tarball: Path, tmp_path: Path) -> None:
    definition = _ee_tree(tmp_path, tarball)
    context = tmp_path / "context"
    result = _run([_tool("ansible-builder"), "create", "-f", str(definition), "-c", str(context), "--output-filename", "Containerfile"],
                  cwd=tmp_path)
    assert result.returncode == 0, f"ansible-builder create failed:\n{result.stdout}\n{result.stderr}"
    assert "No matches" not in result.stdout + result.stderr, "the collection tarball was not found"
    assert (context / "_build" / "collections" / TARBALL_NAME).is_file()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements == {"collections": [{"name": f"/build/collections/{TARBALL_NAME}", "type": "file"}]}
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert f"ansible-core=={_pin('ansible-core')} ansible-runner=={_pin('ansible-runner')}" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    # The fleet callback under awx_display (docs/awx.md, "Live progress"), in the final image.
    final = containerfile[containerfile.rindex("FROM "):]
    assert "ENV ORIGINAL_STDOUT_CALLBACK=fleetops.release.fleet" in final
    assert "ENV ANSIBLE_STDOUT_CALLBACK=fleetops.release.fleet" in final


def test_ansible_builder_refuses_a_broken_definition(tarball: Path, tmp_path: Path) -> None:
    """create validates the definition: a misspelt key fails (so the test above would catch one)."""
    broken = _definition()
    broken["dependencies"]["ansible_kore"] = broken["dependencies"].pop("ansible_core")
    definition = _ee_tree(tmp_path, tarball, broken)
    result = _run([_tool("ansible-builder"), "create", "-f", str(definition), "-c", str(tmp_path / "context")], cwd=tmp_path)
    assert result.returncode != 0
    assert "ansible_kore" in result.stdout + result.stderr
