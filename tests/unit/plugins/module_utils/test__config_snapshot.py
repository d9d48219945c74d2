# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import grp
import json
import os
import pathlib
import pwd
import shutil
import stat
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import (
    SNAPSHOT_MANIFEST,
    SnapshotCorrupt,
    SnapshotError,
    SnapshotNotFound,
    Secrecy,
    SnapshotStore,
    check_roots,
    diff_entry,
    differences,
    entries_digest,
    is_secret,
    parse_mode,
    plan,
    public_change,
    secret_reason,
    validate_config_path,
)

SECRET = b"password=hunter2-very-secret\n"
OWNER = "%s:%s" % (pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def tree(root):
    """{relative path: (kind, mode, content or link target)} of everything below ``root``."""
    found = {}
    if not os.path.lexists(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", None, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode), None)
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), open(path, "rb").read())
    return found


@pytest.fixture(name="public_tmp")
def fixture_public_tmp():
    """A directory others may read and search, like /etc: pytest's tmp_path lies below a 0700 directory, which makes
    everything in it secret."""
    path = tempfile.mkdtemp(prefix="fleet-snapshot-test-", dir="/tmp")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path)


@pytest.fixture(name="env")
def fixture_env(public_tmp):
    tmp_path = public_tmp
    etc = tmp_path / "etc" / "app"
    write(str(etc / "app.conf"), b"listen = 1\n")
    write(str(etc / "conf.d" / "a.conf"), b"a = 1\n")
    write(str(etc / "conf.d" / "secret.conf"), SECRET, 0o600)
    os.symlink("a.conf", str(etc / "conf.d" / "current.conf"))
    store = SnapshotStore(str(tmp_path / "srv"))
    paths = [str(etc / "app.conf"), str(etc / "conf.d")]
    return store, etc, paths


def capture(store, release_id, paths):
    roots, entries = store.capture_plan(paths)
    return store.create(release_id, roots, entries, "live")


def test_capture_keeps_modes_and_is_private(env):
    store, etc, paths = env
    manifest = capture(store, "v1", paths)
    assert stat.S_IMODE(os.stat(store.path("v1")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.dir).st_mode) == 0o700
    copy = store.file_path("v1", str(etc / "conf.d" / "secret.conf"))
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600 and open(copy, "rb").read() == SECRET
    by_path = {entry["path"]: entry for entry in manifest["entries"]}
    assert by_path[str(etc / "conf.d" / "current.conf")]["target"] == "a.conf"
    assert by_path[str(etc / "conf.d" / "secret.conf")]["mode"] == "0600"
    assert [root["type"] for root in manifest["roots"]] == ["file", "directory"]
    assert not any(name.startswith(".tmp-") for name in os.listdir(store.dir))


def test_rollback_gives_back_config_byte_for_byte(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    config_a = tree(str(etc))
    write(str(etc / "app.conf"), b"listen = 2\n")                      # changed
    write(str(etc / "conf.d" / "b.conf"), b"b = 1\n")                  # added
    os.unlink(str(etc / "conf.d" / "a.conf"))                          # removed (the link now dangles)
    write(str(etc / "conf.d" / "secret.conf"), b"password=new\n", 0o600)
    os.unlink(str(etc / "conf.d" / "current.conf"))
    os.symlink("b.conf", str(etc / "conf.d" / "current.conf"))         # retargeted
    capture(store, "v2", paths)
    config_b = tree(str(etc))

    outcome = store.restore("v1", current="v2")
    assert tree(str(etc)) == config_a
    assert outcome["drift_folder"] is None  # live was exactly v2's snapshot: nothing to save
    assert store.restore("v1", current="v1")["actions"] == []          # second run: nothing to do
    store.restore("v2", current="v1")
    assert tree(str(etc)) == config_b


def test_check_mode_changes_nothing(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    write(str(etc / "conf.d" / "new.conf"), b"x\n")
    before = tree(str(etc))
    outcome = store.restore("v1", current="v1", check_mode=True)
    assert [(a["path"], a["action"]) for a in outcome["actions"]] == [(str(etc / "conf.d" / "new.conf"), "remove")]
    assert tree(str(etc)) == before and outcome["drift_folder"] is None
    assert [row["path"] for row in outcome["drift_saved"]] == [str(etc / "conf.d" / "new.conf")]


def test_hand_edit_is_saved_before_restore(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    capture(store, "v2", paths)
    write(str(etc / "app.conf"), b"listen = hand edit\n")
    write(str(etc / "conf.d" / "secret.conf"), b"password=hand\n", 0o600)
    outcome = store.restore("v1", current="v2")
    folder = outcome["drift_folder"]
    assert os.path.basename(folder).startswith("v2.drift-")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    saved = {row["path"]: row for row in outcome["drift_saved"]}
    assert set(saved) == {str(etc / "app.conf"), str(etc / "conf.d" / "secret.conf")}
    assert "differs from the snapshot of release v2" in saved[str(etc / "app.conf")]["reason"]
    assert open(os.path.join(folder, "files", str(etc / "app.conf").lstrip("/")), "rb").read() == b"listen = hand edit\n"
    secret_copy = os.path.join(folder, "files", str(etc / "conf.d" / "secret.conf").lstrip("/"))
    assert stat.S_IMODE(os.stat(secret_copy).st_mode) == 0o600
    assert open(str(etc / "app.conf"), "rb").read() == b"listen = 1\n"
    assert store.snapshots() == (["v1", "v2"], [os.path.basename(folder)])


def test_before_the_first_release_the_configuration_in_place_is_kept_under_its_own_name(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    write(str(etc / "app.conf"), b"other\n")
    outcome = store.restore("v1", current=None)
    assert [row["path"] for row in outcome["drift_saved"]] == [str(etc / "app.conf")]
    assert os.path.basename(outcome["drift_folder"]).startswith("before-first-release-")


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest-entry", "manifest-json", "manifest-missing"])
def test_corrupt_snapshot_is_refused_and_nothing_changes(env, damage):
    store, etc, paths = env
    capture(store, "v1", paths)
    write(str(etc / "app.conf"), b"changed\n")
    write(str(etc / "conf.d" / "extra.conf"), b"x\n")
    before = tree(str(etc))
    copy = store.file_path("v1", str(etc / "conf.d" / "secret.conf"))
    manifest_path = store.manifest_path("v1")
    if damage == "flip":
        data = bytearray(open(copy, "rb").read())
        data[3] ^= 0x01
        open(copy, "wb").write(bytes(data))
    elif damage == "truncate":
        open(copy, "wb").write(SECRET[:5])
    elif damage == "delete":
        os.unlink(copy)
    elif damage == "manifest-entry":
        manifest = json.load(open(manifest_path))
        manifest["entries"][0]["mode"] = "0666"
        json.dump(manifest, open(manifest_path, "w"))
    elif damage == "manifest-json":
        open(manifest_path, "ab").write(b"\x00garbage")
    else:
        os.unlink(manifest_path)
    with pytest.raises(SnapshotCorrupt) as info:
        store.restore("v1", current="v1")
    assert tree(str(etc)) == before
    assert info.value.problems
    if damage in ("flip", "truncate", "delete"):
        assert str(etc / "conf.d" / "secret.conf") in str(info.value)
        assert "nothing was changed" in str(info.value)
    # The secret's content and checksum never appear in the message.
    assert "hunter2" not in str(info.value) and entries_digest([], []) not in str(info.value)


def test_missing_snapshot(env):
    store, dummy, dummy2 = env
    with pytest.raises(SnapshotNotFound, match="release v9 has no configuration snapshot"):
        store.restore("v9")


def test_absent_root_is_removed_on_restore(tmp_path):
    store = SnapshotStore(str(tmp_path / "srv"))
    extra = str(tmp_path / "etc" / "later.d")
    capture(store, "v1", [extra])
    write(os.path.join(extra, "x.conf"), b"x\n")
    outcome = store.restore("v1", current=None)
    assert not os.path.lexists(extra)
    assert [row["path"] for row in outcome["drift_saved"]] == [os.path.join(extra, "x.conf")]


def test_type_change_directory_to_file(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    shutil.rmtree(str(etc / "conf.d"))
    write(str(etc / "conf.d"), b"now a file\n")
    assert [a["changes"] for a in plan(store.load("v1")) if a["path"] == str(etc / "conf.d")] == [["type"]]
    store.restore("v1", current=None)
    assert plan(store.load("v1")) == []
    assert os.path.isdir(str(etc / "conf.d"))


def test_mode_only_drift_keeps_inode(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    os.chmod(str(etc / "app.conf"), 0o640)
    inode = os.stat(str(etc / "app.conf")).st_ino
    actions = plan(store.load("v1"))
    assert [(a["path"], a["changes"]) for a in actions] == [(str(etc / "app.conf"), ["mode"])]
    store.restore("v1", current="v1")
    assert stat.S_IMODE(os.stat(str(etc / "app.conf")).st_mode) == 0o644 and os.stat(str(etc / "app.conf")).st_ino == inode


def test_secrets_never_in_public_rows_or_diffs(env):
    store, etc, paths = env
    capture(store, "v1", paths)
    write(str(etc / "conf.d" / "secret.conf"), b"password=changed-secret\n", 0o600)
    write(str(etc / "app.conf"), b"listen = 3\n")
    actions = plan(store.load("v1"))
    rendered = json.dumps([public_change(a, "v1") for a in actions])
    diffs = [diff_entry(a, store.file_path("v1", a["path"]), "live", "snapshot v1") for a in actions]
    text = json.dumps(diffs)
    for needle in ("hunter2", "changed-secret"):
        assert needle not in rendered and needle not in text
    secret_row = next(row for row in json.loads(rendered) if row["path"].endswith("secret.conf"))
    assert secret_row["secret"] and "sha256" not in secret_row["live"] and "size" not in secret_row["snapshot"]
    public = next(d for d in diffs if d["before_header"].startswith(str(etc / "app.conf")))
    assert public["before"].endswith("\nlisten = 3\n") and public["after"].endswith("\nlisten = 1\n")
    secret = next(d for d in diffs if "secret.conf" in d["before_header"])
    assert secret["before"] == "# file 0600 %s\n<secret: content not shown>\n" % OWNER
    assert secret["after"] == "# file 0600 %s\n<secret: content not shown; sha256 changed>\n" % OWNER
    os.chmod(str(etc / "app.conf"), 0o640)  # now a secret too: neither side's content may show
    mode_only = diff_entry(plan(store.load("v1"))[0], store.file_path("v1", str(etc / "app.conf")), "live", "snapshot v1")
    assert "listen" not in json.dumps(mode_only) and mode_only["before"].startswith("# file 0640")


def test_rendered_plan(tmp_path):
    store = SnapshotStore(str(tmp_path / "srv"))
    rendered = tmp_path / "r"
    write(str(rendered / "0"), b"host = a\n")
    write(str(rendered / "1"), SECRET, 0o600)
    conf_d = str(tmp_path / "etc" / "conf.d")
    roots, entries = store.rendered_plan([conf_d], [
        {"src": str(rendered / "0"), "dest": str(tmp_path / "etc" / "app.conf")},
        {"src": str(rendered / "1"), "dest": conf_d + "/sub/secret.conf", "mode": "0600"},
    ], "root", "root")
    assert [(r["path"], r["type"]) for r in roots] == [(str(tmp_path / "etc" / "app.conf"), "file"), (conf_d, "directory")]
    assert [e["path"] for e in entries] == [str(tmp_path / "etc" / "app.conf"), conf_d, conf_d + "/sub", conf_d + "/sub/secret.conf"]
    store.create("v1", roots, entries, "templates")
    write(os.path.join(conf_d, "stale.conf"), b"old\n")
    store.restore("v1")
    assert sorted(os.listdir(conf_d)) == ["sub"]
    assert stat.S_IMODE(os.stat(conf_d + "/sub/secret.conf").st_mode) == 0o600
    assert store.same_content("v1", roots, entries)


@pytest.mark.parametrize("path", ["etc/app", "/", "/etc/../x", "/etc//x", "/etc/./x", ""])
def test_bad_paths(path):
    with pytest.raises(SnapshotError):
        validate_config_path(path)


def test_trailing_slash_is_normalised():
    assert validate_config_path("/etc/fleetapp/conf.d/") == "/etc/fleetapp/conf.d"


def test_overlapping_roots_are_refused():
    with pytest.raises(SnapshotError, match="lies inside"):
        check_roots(["/etc/a", "/etc/a/b"])
    with pytest.raises(SnapshotError, match="more than once"):
        check_roots(["/etc/a", "/etc/a"])
    with pytest.raises(SnapshotError, match="snapshots themselves"):
        check_roots(["/srv/app"], forbidden=["/srv/app/snapshots"])
    assert check_roots(["/etc/ab", "/etc/a"]) == ["/etc/a", "/etc/ab"]


@pytest.mark.parametrize("value, expected", [("0600", "0600"), ("600", "0600"), (0o640, "0640"), ("2755", "2755")])
def test_parse_mode(value, expected):
    assert parse_mode(value, "x") == expected


@pytest.mark.parametrize("value", ["u+rw", "0999", "", "77777"])
def test_parse_mode_refuses(value):
    with pytest.raises(SnapshotError):
        parse_mode(value, "x")


def test_is_secret_and_differences():
    base = {"type": "file", "mode": "0640", "owner": "root", "group": "root", "uid": 0, "gid": 0, "sha256": "a", "size": 1}
    assert is_secret(base) and not is_secret(dict(base, mode="0644")) and not is_secret({"type": "link", "mode": "0777"})
    assert differences(base, None) == ["missing"] and differences(None, base) == ["extra"]
    assert differences(base, dict(base, sha256="b", mode="0600")) == ["content", "mode"]
    assert differences(base, dict(base, type="directory")) == ["type"]


# A random configuration tree: restoring a snapshot always makes plan() empty and the tree equal again.
NAMES = st.sampled_from(["a", "b", "c.conf", "d"])
CONTENT = st.binary(max_size=40)
MODES = st.sampled_from([0o600, 0o640, 0o644, 0o755])
TREES = st.dictionaries(st.lists(NAMES, min_size=1, max_size=3).map("/".join), st.tuples(CONTENT, MODES), max_size=6)


def materialise(root, spec):
    if os.path.lexists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    for rel, (data, mode) in sorted(spec.items()):
        path = os.path.join(root, rel)
        parent = os.path.dirname(path)
        if os.path.isfile(parent) or os.path.isdir(path):
            continue  # a name used both as file and directory: keep the first
        # a path whose ancestor is a file cannot exist
        probe = parent
        blocked = False
        while probe != root:
            if os.path.isfile(probe):
                blocked = True
            probe = os.path.dirname(probe)
        if blocked:
            continue
        write(path, data, mode)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=TREES, second=TREES)
def test_restore_round_trip(tmp_path, first, second):
    base = tmp_path / "case"
    if base.exists():
        shutil.rmtree(str(base))
    root = str(base / "etc" / "conf.d")
    store = SnapshotStore(str(base / "srv"))
    materialise(root, first)
    capture(store, "one", [root])
    wanted = tree(root)
    materialise(root, second)
    store.restore("one", current=None)
    assert tree(root) == wanted
    assert plan(store.verify("one")) == []
    assert SNAPSHOT_MANIFEST in os.listdir(store.path("one"))


# -- secrecy from the whole path (issue 14: --diff printed a 0644 file inside a 0700 directory) ------------------------

def test_secrecy_from_the_file_and_every_directory_above_it(public_tmp):
    private = public_tmp / "etc" / "fleetapp" / "conf.d"
    write(str(private / "db.conf"), b"password = x\n", 0o644)
    write(str(public_tmp / "etc" / "fleetapp" / "app.conf"), b"listen = 1\n", 0o644)
    write(str(public_tmp / "etc" / "fleetapp" / "key.pem"), b"key\n", 0o640)
    os.chmod(str(private), 0o755)
    assert secret_reason(str(private / "db.conf")) is None
    assert secret_reason(str(public_tmp / "etc" / "fleetapp" / "app.conf")) is None
    assert "not readable by others (mode 0640)" in secret_reason(str(public_tmp / "etc" / "fleetapp" / "key.pem"))
    for mode in (0o700, 0o750, 0o711, 0o744):  # a parent that others cannot both read and search
        os.chmod(str(private), mode)
        reason = secret_reason(str(private / "db.conf"))
        assert reason == "directory %s is not readable and searchable by others (mode %04o)" % (private, mode)
        assert secret_reason(str(private / "not-there-yet.conf")) is not None
    os.chmod(str(public_tmp / "etc"), 0o700)  # any directory up to /, not only the nearest
    os.chmod(str(private), 0o755)
    assert "directory %s " % (public_tmp / "etc") in secret_reason(str(private / "db.conf"))
    os.chmod(str(public_tmp / "etc"), 0o755)


def test_secrecy_follows_a_symlinked_directory_to_where_the_file_really_is(public_tmp):
    vault = public_tmp / "vault"
    write(str(vault / "inner" / "db.conf"), b"password = x\n", 0o644)
    os.chmod(str(vault), 0o700)
    os.symlink(str(vault / "inner"), str(public_tmp / "conf.d"))
    assert "directory %s " % vault in secret_reason(str(public_tmp / "conf.d" / "db.conf"))


def test_secrecy_from_what_the_snapshot_records_and_from_secret_paths(public_tmp):
    # A directory that does not exist live yet, recorded 0700 in the snapshot: a restore makes it private.
    recorded = [{"path": "/nonexistent-fleet/conf.d", "type": "directory", "mode": "0700"},
                {"path": "/nonexistent-fleet/conf.d/db.conf", "type": "file", "mode": "0644"}]
    assert "(mode 0700 in the snapshot)" in secret_reason("/nonexistent-fleet/conf.d/db.conf", entries=recorded)
    assert secret_reason("/nonexistent-fleet/conf.d/db.conf") is None
    write(str(public_tmp / "app" / "token.conf"), b"t\n")
    write(str(public_tmp / "app" / "plain.conf"), b"p\n")
    write(str(public_tmp / "vault" / "deep" / "x.conf"), b"x\n")
    patterns = [str(public_tmp / "app" / "token*"), str(public_tmp / "vault") + "/"]
    assert "matches the secret path" in secret_reason(str(public_tmp / "app" / "token.conf"), patterns)
    assert secret_reason(str(public_tmp / "app" / "plain.conf"), patterns) is None
    assert "matches the secret path %s" % (public_tmp / "vault") in secret_reason(str(public_tmp / "vault" / "deep" / "x.conf"), patterns)
    assert "matches" in secret_reason(str(public_tmp / "app" / "plain.conf"), ["/*"])  # '*' also matches '/'
    for bad in (["relative/*"], [""], ["/etc/x\n"], [3]):
        with pytest.raises(SnapshotError, match="absolute path or glob pattern"):
            Secrecy(bad)


def test_diff_of_a_file_in_a_private_directory_shows_only_a_placeholder(env):
    store, etc, paths = env
    write(str(etc / "conf.d" / "db.conf"), b"password = first-secret\n", 0o644)
    capture(store, "v1", paths)
    write(str(etc / "conf.d" / "db.conf"), b"password = second-secret\n", 0o644)
    write(str(etc / "conf.d" / "a.conf"), b"a = 2\n")
    os.chmod(str(etc / "conf.d"), 0o700)
    actions = plan(store.load("v1"))
    secrecy = Secrecy([], store.load("v1")["entries"])
    diffs = {d["before_header"]: d for d in (diff_entry(a, store.file_path("v1", a["path"]), "live", "snapshot v1", secrecy)
                                             for a in actions)}
    rows = json.dumps([public_change(a, "v1", secrecy) for a in actions])
    text = json.dumps(diffs)
    for needle in ("first-secret", "second-secret", "a = 2", "a = 1"):
        assert needle not in text and needle not in rows
    db = diffs["%s (live)" % (etc / "conf.d" / "db.conf")]
    assert db["before"].endswith("\n<secret: content not shown>\n")
    assert db["after"].endswith("\n<secret: content not shown; sha256 changed>\n")
    assert all(row["secret"] and "sha256" not in (row["live"] or {}) for row in json.loads(rows) if "conf.d/" in row["path"])
    # A mode-only change of a secret says its content is unchanged.
    os.chmod(str(etc / "conf.d"), 0o755)
    store.restore("v1", current="v1")
    os.chmod(str(etc / "conf.d" / "secret.conf"), 0o640)
    [action] = plan(store.load("v1"))
    assert diff_entry(action, store.file_path("v1", action["path"]), "live", "v1")["after"].endswith(
        "\n<secret: content not shown; sha256 unchanged>\n")
    # A listed secret path in a public directory: the same placeholder.
    write(str(etc / "app.conf"), b"listen = 9\n")
    [action] = [a for a in plan(store.load("v1")) if a["path"].endswith("app.conf")]
    listed = diff_entry(action, store.file_path("v1", action["path"]), "live", "v1", Secrecy([str(etc / "app.conf")]))
    assert "listen" not in json.dumps(listed) and listed["after"].endswith("sha256 changed>\n")
    assert "listen = 9" in diff_entry(action, store.file_path("v1", action["path"]), "live", "v1")["before"]
