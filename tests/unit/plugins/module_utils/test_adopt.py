# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils._adopt: each tool's layout, written here step by step as the tool writes it (sources cited per file)."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._adopt import AdoptError, apply, judge, plan
from ansible_collections.fleetops.release.plugins.module_utils._release_store import MANIFEST_NAME, ReleaseStore


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def release_files(path, name):
    write(os.path.join(path, "VERSION"), name + "\n")
    write(os.path.join(path, "app.py"), "print('app')\n")


# -- the layouts ---------------------------------------------------------------------------------------------------

def ansistrano(root, names, current, shared=("log",), half_made=()):
    """ansistrano/deploy: setup.yml makes releases/ and shared/<path>; update-code.yml names the release
    ``date -u +%Y%m%d%H%M%SZ``, fills releases/<name> and writes REVISION (the release name when not deployed from git)
    last; symlink-shared.yml links releases/<name>/<path> -> ``../../shared/<path>`` (one ``..`` per component, then
    ``../shared``); symlink.yml points current at ``./releases/<name>``."""
    for path in shared:
        os.makedirs(os.path.join(root, "shared", path), exist_ok=True)
    for name in list(names) + list(half_made):
        release = os.path.join(root, "releases", name)
        release_files(release, name)
        if name in half_made:
            continue  # killed during update-code: no REVISION, no shared links
        write(os.path.join(release, "REVISION"), name)
        for path in shared:
            os.symlink("/".join(".." for dummy in path.split("/")) + "/../shared/" + path, os.path.join(release, path))
    os.symlink("./releases/" + current, os.path.join(root, "current"))


def capistrano(root, names, current, logged=None, rollback_to=None):
    """capistrano lib/capistrano/tasks/deploy.rake: deploy:check:directories makes shared/ and releases/
    (+ shared/<linked_dir>); git:create_release fills releases/<%Y%m%d%H%M%S UTC> (dsl/paths.rb ``now``) and
    set_current_revision writes REVISION; symlink:linked_dirs links releases/<t>/log -> <root>/shared/log (absolute);
    symlink:release ``ln -s <release_path> <current_path>`` (absolute); log_revision appends i18n.rb's
    "Branch %{branch} (at %{sha}) deployed as release %{release} by %{user}" to revisions.log when the deploy finished;
    a rollback appends "%{user} rolled back to release %{release}"."""
    os.makedirs(os.path.join(root, "shared", "log"), exist_ok=True)
    os.makedirs(os.path.join(root, "repo"), exist_ok=True)
    lines = []
    for index, name in enumerate(names):
        release = os.path.join(root, "releases", name)
        release_files(release, name)
        write(os.path.join(release, "REVISION"), "%07x" % (0xabc000 + index))
        os.symlink(os.path.join(root, "shared", "log"), os.path.join(release, "log"))
        if logged is None or name in logged:
            lines.append("Branch main (at %07x) deployed as release %s by deploy\n" % (0xabc000 + index, name))
    if rollback_to:
        lines.append("deploy rolled back to release %s\n" % rollback_to)
    write(os.path.join(root, "revisions.log"), "".join(lines))
    os.symlink(os.path.join(root, "releases", current), os.path.join(root, "current"))


def deployer(root, names, current, building=None, bad=()):
    """deployphp/deployer recipe/deploy/release.php: deploy:release writes .dep/latest_release and appends
    ``json_encode({created_at, release_name, user, target})`` to .dep/releases_log, makes releases/<n> (n = latest + 1)
    and ``{{bin/symlink}} releases/<n> release`` (config.php: ``ln -nfs --relative``); shared.php links
    releases/<n>/<dir> relatively into shared/; symlink.php switches current (relative) and removes ``release``;
    rollback.php writes "<timestamp>,<user>" into releases/<current>/BAD_RELEASE."""
    os.makedirs(os.path.join(root, "shared", "storage"), exist_ok=True)
    log = []
    for index, name in enumerate(list(names) + ([building] if building else [])):
        log.append(json.dumps({"created_at": "2024-01-0%dT12:00:00+0000" % (index + 1), "release_name": name, "user": "deploy",
                               "target": "HEAD"}, separators=(",", ":")) + "\n")
        release = os.path.join(root, "releases", name)
        release_files(release, name)
        write(os.path.join(release, "REVISION"), "%07x" % index)
        os.symlink("../../shared/storage", os.path.join(release, "storage"))
    write(os.path.join(root, ".dep", "releases_log"), "".join(log))
    write(os.path.join(root, ".dep", "latest_release"), (building or names[-1]) + "\n")
    for name in bad:
        write(os.path.join(root, "releases", name, "BAD_RELEASE"), "2024-01-09T08:00:00+0000,alice\n")
    if building:
        os.symlink("releases/" + building, os.path.join(root, "release"))
    os.symlink("releases/" + current, os.path.join(root, "current"))


def deploy_helper(root, names, current, unfinished=()):
    """community.general deploy_helper: state=present makes releases/ and shared/; new_release defaults to
    ``time.strftime("%Y%m%d%H%M%S")``; the playbook (module EXAMPLES) touches DEPLOY_UNFINISHED in the new release and
    links shared folders (absolute src); state=finalize removes DEPLOY_UNFINISHED and points current at the absolute
    release path (create_link: symlink to a temp name, rename)."""
    os.makedirs(os.path.join(root, "shared", "uploads"), exist_ok=True)
    for name in list(names) + list(unfinished):
        release = os.path.join(root, "releases", name)
        release_files(release, name)
        os.makedirs(os.path.join(release, "web"))
        os.symlink(os.path.join(root, "shared", "uploads"), os.path.join(release, "web", "uploads"))
        if name in unfinished:
            write(os.path.join(release, "DEPLOY_UNFINISHED"), "")
    os.symlink(os.path.join(root, "releases", current), os.path.join(root, "current"))


def tree(root):
    """Every path under root with what it is (link target, file content, dir): to prove nothing was moved or removed."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            elif os.path.isdir(path):
                found[rel] = "dir"
            else:
                found[rel] = open(path, "rb").read()
    return found


def adopt(root, **kwargs):
    adoption = plan(str(root), kwargs.pop("tool", None), kwargs.pop("order", None))
    return adoption, apply(adoption, actor="tester", **kwargs)


# -- per tool -----------------------------------------------------------------------------------------------------

def test_ansistrano(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240102090000Z", "20231230120000Z", "20240105170000Z"], "20240102090000Z", half_made=["20240106100000Z"])
    before = tree(str(root))
    adoption, (changed, written, dummy, after) = adopt(root)
    assert adoption["from"] == "ansistrano" and adoption["detected"] == ["ansistrano"]
    assert [item["id"] for item in adoption["releases"]] == ["20231230120000Z", "20240102090000Z", "20240105170000Z"]
    assert [item["id"] for item in adoption["unfinished"]] == ["20240106100000Z"] and "REVISION" in adoption["unfinished"][0]["reason"]
    assert adoption["releases"][0]["created_at"] == "2023-12-30T12:00:00Z" and adoption["releases"][0]["revision"] == "20231230120000Z"
    assert adoption["shared_paths"] == ["log"] and (adoption["current"], adoption["previous"]) == ("20240102090000Z", "20231230120000Z")
    assert changed and written == [item["id"] for item in adoption["releases"]]
    store = ReleaseStore(str(root))
    assert [item["id"] for item in store.releases()] == written and [item["sequence"] for item in store.releases()] == [1, 2, 3]
    assert store.status()["current"] == "20240102090000Z" and store.read_state()["previous"] == "20231230120000Z"
    assert store.rollback_target()[0] == "20231230120000Z"
    assert after["adopted"]["from"] == "ansistrano" and store.history()[-1]["event"] == "adopt"
    # Nothing moved, renamed or deleted: the tree is what it was plus our manifests and .fleet/.
    now = tree(str(root))
    assert {key: value for key, value in now.items() if key in before} == before
    assert sorted(set(now) - set(before)) == sorted(
        [os.path.join("releases", name, MANIFEST_NAME) for name in written] + [".fleet", ".fleet/history.jsonl", ".fleet/state.json"])
    assert not os.path.exists(root / "releases" / "20240106100000Z" / MANIFEST_NAME)


def test_ansistrano_names_chosen_by_hand_need_an_order(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["v1.2", "v1.10"], "v1.10")
    with pytest.raises(AdoptError, match=r"cannot know the order .*v1\.10, v1\.2.*fleet_adopt_order"):
        plan(str(root))
    assert not os.path.exists(root / ".fleet")
    adoption, (changed, dummy, dummy, dummy) = adopt(root, order=["v1.2", "v1.10"])
    assert changed and adoption["order_source"] == "order option" and adoption["previous"] == "v1.2"
    with pytest.raises(AdoptError, match="missing: v1.10"):
        plan(str(root), order=["v1.2"])
    with pytest.raises(AdoptError, match="not complete releases here: v9"):
        plan(str(root), order=["v1.2", "v1.10", "v9"])


def test_capistrano(tmp_path):
    root = tmp_path / "app"
    # A clock set back between two deploys: the log, not the names, gives the order. 20240104 never finished.
    names = ["20240101120000", "20240103120000", "20240102120000", "20240104120000"]
    capistrano(str(root), names, "20240102120000", logged=names[:3])
    adoption, (changed, dummy, dummy, dummy) = adopt(root)
    assert adoption["from"] == "capistrano" and adoption["order_source"].startswith("revisions.log")
    assert [item["id"] for item in adoption["releases"]] == names[:3]
    assert [item["id"] for item in adoption["unfinished"]] == ["20240104120000"]
    assert adoption["releases"][1]["revision"] == "0abc001"
    assert adoption["shared_paths"] == ["log"] and adoption["previous"] == "20240103120000"
    assert changed and ReleaseStore(str(root)).rollback_target()[0] == "20240103120000"


def test_capistrano_rollback_line_does_not_reorder(tmp_path):
    root = tmp_path / "app"
    capistrano(str(root), ["20240101120000", "20240102120000"], "20240101120000", rollback_to="20240101120000")
    adoption = plan(str(root))
    assert [item["id"] for item in adoption["releases"]] == ["20240101120000", "20240102120000"]
    assert adoption["current"] == "20240101120000" and adoption["previous"] is None


def test_capistrano_current_missing_from_the_log_asks_for_the_order(tmp_path):
    root = tmp_path / "app"
    capistrano(str(root), ["20240101120000", "20240102120000"], "20240102120000", logged=["20240101120000"])
    with pytest.raises(AdoptError, match=r"current \(20240102120000\) is not in revisions.log.*order"):
        plan(str(root))
    adoption = plan(str(root), order=["20240101120000", "20240102120000"])
    assert adoption["previous"] == "20240101120000"


def test_deployer(tmp_path):
    root = tmp_path / "app"
    deployer(str(root), ["1", "2", "3"], "2", building="4", bad=["3"])
    adoption, (changed, dummy, dummy, after) = adopt(root)
    assert adoption["from"] == "deployer" and [item["id"] for item in adoption["releases"]] == ["1", "2", "3"]
    assert [item["id"] for item in adoption["unfinished"]] == ["4"] and "release symlink" in adoption["unfinished"][0]["reason"]
    assert adoption["releases"][0]["created_at"] == "2024-01-01T12:00:00Z" and adoption["shared_paths"] == ["storage"]
    assert after["bad"]["3"]["by"] == "alice" and after["bad"]["3"]["at"] == "2024-01-09T08:00:00Z"
    store = ReleaseStore(str(root))
    assert changed and store.status()["current"] == "2" and "3" in store.status()["bad"]


def test_deploy_helper(tmp_path):
    root = tmp_path / "app"
    deploy_helper(str(root), ["20240101120000", "20240102120000"], "20240102120000", unfinished=["20240103120000"])
    adoption, (changed, dummy, dummy, dummy) = adopt(root)
    assert adoption["from"] == "deploy_helper" and adoption["detected"] == ["deploy_helper"]
    assert [item["id"] for item in adoption["unfinished"]] == ["20240103120000"] and "DEPLOY_UNFINISHED" in adoption["unfinished"][0]["reason"]
    assert adoption["shared_paths"] == ["web/uploads"] and adoption["releases"][0]["created_at"] is None  # host time, no zone
    assert changed and adoption["previous"] == "20240101120000"


# -- idempotence, check mode, refusals ------------------------------------------------------------------------------

def test_second_run_and_check_mode_change_nothing(tmp_path):
    root = tmp_path / "app"
    capistrano(str(root), ["20240101120000", "20240102120000"], "20240102120000")
    dummy, (changed, written, before, after) = adopt(root, check_mode=True)
    assert changed and len(written) == 2 and before != after and not os.path.exists(root / ".fleet")
    assert not os.path.exists(root / "releases" / "20240101120000" / MANIFEST_NAME)
    adopt(root)
    first = tree(str(root))
    dummy, (changed, written, before, after) = adopt(root)
    assert not changed and written == [] and before == after and tree(str(root)) == first


def test_after_a_deploy_of_ours_adoption_changes_nothing(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240101120000Z", "20240102120000Z"], "20240102120000Z")
    adopt(root)
    store = ReleaseStore(str(root))
    artifact = tmp_path / "n.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(str(root / "releases" / "20240101120000Z" / "VERSION"), "VERSION")
    dummy, manifest = store.create_release("20240103120000Z", artifact=str(artifact))
    assert manifest["sequence"] == 3
    store.switch("20240103120000Z", operation="deploy")
    adoption, (changed, dummy, dummy, dummy) = adopt(root)
    assert not changed and adoption["ours"] == ["20240103120000Z"] and adoption["current"] == "20240103120000Z"
    assert store.status()["previous"] == "20240102120000Z"


def test_unknown_layout_is_refused_and_nothing_written(tmp_path):
    root = tmp_path / "app"
    for name in ("alpha", "beta"):
        release_files(str(root / "releases" / name), name)
    os.symlink("releases/beta", root / "current")
    before = tree(str(root))
    with pytest.raises(AdoptError, match="not one of ansistrano, capistrano, deployer or deploy_helper.*fleet_adopt_from"):
        plan(str(root))
    with pytest.raises(AdoptError, match="does not exist"):
        plan(str(tmp_path / "nothing"))
    assert tree(str(root)) == before


def test_two_tools_traces_need_from(tmp_path):
    root = tmp_path / "app"
    capistrano(str(root), ["20240101120000"], "20240101120000")
    write(str(root / ".dep" / "releases_log"), "")
    with pytest.raises(AdoptError, match="traces of deployer and capistrano"):
        plan(str(root))
    assert plan(str(root), tool="capistrano")["from"] == "capistrano"


def test_current_must_be_a_symlink_into_releases(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240101120000Z"], "20240101120000Z")
    os.unlink(root / "current")
    os.makedirs(root / "current")
    with pytest.raises(AdoptError, match="is a directory, not a symlink"):
        plan(str(root))
    os.rmdir(root / "current")
    os.symlink(str(tmp_path), root / "current")
    with pytest.raises(AdoptError, match="not a directory under"):
        plan(str(root))


def test_a_locked_host_is_refused(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240101120000Z"], "20240101120000Z")
    write(str(root / ".fleet" / "lock"), json.dumps({"holder": "alice run 1"}))
    with pytest.raises(AdoptError, match="locked by alice run 1"):
        adopt(root)
    # Another run's lock is refused; the lock of the run that adopts (adopt.yml locks each host first) is not.
    write(str(root / ".fleet" / "lock"), json.dumps({"holder": "alice run 20260101T000000Z-1", "run_id": "20260101T000000Z-1"}))
    with pytest.raises(AdoptError, match="locked by alice run 20260101T000000Z-1"):
        adopt(root, run_id="20260101T000000Z-2")
    adoption, (changed, written, _before, _after) = adopt(root, run_id="20260101T000000Z-1")
    assert changed and written == ["20240101120000Z"]
    history = (root / ".fleet" / "history.jsonl").read_text().splitlines()
    assert json.loads(history[-1])["run_id"] == "20260101T000000Z-1" and adoption["current"] == "20240101120000Z"


def test_invalid_names_are_left_alone(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240101120000Z"], "20240101120000Z")
    release_files(str(root / "releases" / "old copy"), "x")
    adoption = plan(str(root))
    assert adoption["skipped"] == [{"id": "old copy", "reason": "not a valid release id of this collection; left alone"}]


def test_a_changed_record_is_refused(tmp_path):
    root = tmp_path / "app"
    ansistrano(str(root), ["20240101120000Z", "20240102120000Z"], "20240102120000Z")
    adopt(root)
    with pytest.raises(AdoptError, match=r"20240102120000Z was adopted with sequence 2, the order read now \(order option\) puts it at 1"):
        plan(str(root), order=["20240102120000Z", "20240101120000Z"])


def test_judge_lists_each_host_with_its_problem():
    good = {"from": "capistrano", "current": "b", "release_ids": ["a", "b"]}
    reads = {
        "h1": good, "h2": dict(good), "h3": dict(good, current="a"), "h4": dict(good, release_ids=["b"]),
        "h5": dict(good, **{"from": "deployer"}), "h6": {"failed": True, "msg": "the layout under /srv/app is not\n one of ..."},
        "h7": None,
    }
    assert judge(reads) == {
        "h3": "current is a, on most hosts b",
        "h4": "missing releases that most hosts have: a",
        "h5": "laid out by deployer, most hosts by capistrano",
        "h6": "the layout under /srv/app is not one of ...",
        "h7": "not read (unreachable?)",
    }
    assert judge({"h1": good, "h2": good}) == {}
