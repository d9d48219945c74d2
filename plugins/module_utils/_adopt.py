# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Adopt a host deployed by another tool: write this collection's bookkeeping beside what is there.

The four layouts (all ``<root>/releases/<name>/``, a ``current`` symlink and ``shared/``) differ in how they name
releases, where they keep their record and how a half-made release looks:

    ansistrano     names ``date -u +%Y%m%d%H%M%SZ``; REVISION written at the end of update-code (a release without
                   it is half made); ``current -> ./releases/<name>``            (ansistrano/deploy tasks/*.yml)
    capistrano     names ``%Y%m%d%H%M%S`` (UTC); ``revisions.log`` gets "... deployed as release <name> by <user>"
                   when a deploy finished (deploy:log_revision); ``current -> <root>/releases/<name>``
                                                                  (capistrano lib/capistrano/tasks/deploy.rake)
    deployer       names 1, 2, 3 ...; ``.dep/releases_log`` gets one JSON line per release when it is started
                   (deploy:release); ``release -> releases/<n>`` while a deploy runs (removed by deploy:symlink);
                   ``releases/<n>/BAD_RELEASE`` after a rollback left it          (deployer recipe/deploy/*.php)
    deploy_helper  names ``%Y%m%d%H%M%S`` (host time) or chosen by the user; ``DEPLOY_UNFINISHED`` inside a release
                   until state=finalize; ``current -> <root>/releases/<name>``  (community.general deploy_helper)

Order comes from the tool's own record (capistrano, deployer) or from the release names' timestamp format
(ansistrano, deploy_helper), never from file times; when it cannot be known the caller must pass ``order``.
Nothing is moved, renamed or deleted: adoption writes each complete release's manifest and ``.fleet/state.json``.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from ansible_collections.fleetops.release.plugins.module_utils._atomic import atomic_write_json, read_json
from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    MANIFEST_NAME,
    FleetError,
    ReleaseIdError,
    ReleaseStore,
    isoformat,
    utc_now,
    validate_release_id,
)

TOOLS = ("ansistrano", "capistrano", "deployer", "deploy_helper")
ADOPTED_BY = "adopt:"  # created_by prefix of the manifests adoption writes

CAPISTRANO_LOG = "revisions.log"
DEPLOYER_LOG = os.path.join(".dep", "releases_log")
DEPLOYER_RELEASE_LINK = "release"
DEPLOYER_BAD = "BAD_RELEASE"
REVISION = "REVISION"
DEPLOY_HELPER_UNFINISHED = "DEPLOY_UNFINISHED"

# Capistrano's i18n revision_log_message, "Branch %{branch} (at %{sha}) deployed as release %{release} by %{user}"
# (older versions: without "(at ...)"); rollback lines ("... rolled back to release ...") do not create releases.
_CAPISTRANO_DEPLOYED = re.compile(r"deployed as release (\S+) by ")
_ANSISTRANO_NAME = (re.compile(r"\d{14}Z"), "%Y%m%d%H%M%SZ")
_TIMESTAMP_NAME = (re.compile(r"\d{14}"), "%Y%m%d%H%M%S")

# How deep and how wide the search for links into shared/ goes in one release (linked dirs and files are shallow:
# log, tmp/pids, public/uploads, storage/app/public); a release with a huge tree is not walked whole.
SHARED_LINK_DEPTH = 4
SHARED_LINK_MAX_ENTRIES = 20000


class AdoptError(FleetError):
    pass


def _parse_name(name, pattern):
    regex, fmt = pattern
    if not regex.fullmatch(name):
        return None
    try:
        return datetime.datetime.strptime(name, fmt)
    except ValueError:
        return None


def _read_text(path, limit=4096):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace").strip()
    except OSError:
        return None


def _link_release(root, releases_dir, name):
    """The release a symlink ``<root>/<name>`` points at (its basename), None when there is no such symlink.

    Raises AdoptError when ``name`` exists and is not a symlink into ``releases/``.
    """
    path = os.path.join(root, name)
    if not os.path.lexists(path):
        return None
    if not os.path.islink(path):
        kind = "a directory" if os.path.isdir(path) else "a file"
        raise AdoptError("%s is %s, not a symlink to a release; adoption needs %s -> releases/<release> (ansistrano_current_via=rsync "
                         "keeps a copy instead: switch it to symlink first)" % (path, kind, path))
    target = os.readlink(path)
    resolved = os.path.normpath(os.path.join(root, target))
    if os.path.realpath(os.path.dirname(resolved)) != os.path.realpath(releases_dir):
        raise AdoptError("%s points at %s, which is not a directory under %s; adoption only takes over releases kept there"
                         % (path, target, releases_dir))
    return os.path.basename(resolved)


def shared_links(release_dir, shared_dir):
    """Paths inside ``release_dir`` that are symlinks into ``shared_dir`` (relative, sorted): the tool's shared paths."""
    shared_real = os.path.realpath(shared_dir)
    found = []
    seen = 0
    stack = [("", 0)]
    while stack:
        relative, depth = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(release_dir, relative) if relative else release_dir))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > SHARED_LINK_MAX_ENTRIES:
                return sorted(found)
            path = os.path.join(relative, entry.name) if relative else entry.name
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if real == shared_real or real.startswith(shared_real + os.sep):
                    found.append(path)
            elif entry.is_dir(follow_symlinks=False) and depth + 1 < SHARED_LINK_DEPTH:
                stack.append((path, depth + 1))
    return sorted(found)


class Layout:
    """What is on one host under ``root``, read only: the directories, markers and records of the old tool."""

    def __init__(self, root):
        self.store = ReleaseStore(root)
        self.root = self.store.root
        self.releases_dir = self.store.releases_dir
        if not os.path.isdir(self.releases_dir):
            raise AdoptError("%s does not exist: no release layout of ansistrano, capistrano, deployer or deploy_helper under %s "
                             "(adoption needs releases/, current and shared/ under app_root; point app_root at the tool's "
                             "deploy_to / deploy_path / path)" % (self.releases_dir, self.root))
        self.dirs = []       # valid release ids of directories that are not ours
        self.invalid = []    # directory names that are not valid release ids
        self.ours = {}       # id -> manifest of releases this collection made (deployed after adoption)
        self.adopted = {}    # id -> manifest written by an earlier adoption
        for name in sorted(os.listdir(self.releases_dir)):
            path = os.path.join(self.releases_dir, name)
            if name.startswith(".") or os.path.islink(path) or not os.path.isdir(path):
                continue  # our temp dirs, stray files and links are never releases
            try:
                validate_release_id(name)
            except ReleaseIdError:
                self.invalid.append(name)
                continue
            manifest = self.store.manifest(name)
            if manifest is not None and not str(manifest.get("created_by") or "").startswith(ADOPTED_BY):
                self.ours[name] = manifest
                continue
            if manifest is not None:
                self.adopted[name] = manifest
            self.dirs.append(name)
        self.current = _link_release(self.root, self.releases_dir, "current")

    def has(self, name, marker):
        return os.path.isfile(os.path.join(self.releases_dir, name, marker))

    def detect(self):
        """The tools whose traces are here (more than one: ambiguous, none: unknown)."""
        found = []
        if os.path.isfile(os.path.join(self.root, DEPLOYER_LOG)):
            found.append("deployer")
        if os.path.isfile(os.path.join(self.root, CAPISTRANO_LOG)):
            found.append("capistrano")
        if not found:
            revision = any(self.has(name, REVISION) for name in self.dirs)
            unfinished = any(self.has(name, DEPLOY_HELPER_UNFINISHED) for name in self.dirs)
            stamped = bool(self.dirs) and all(_parse_name(name, _TIMESTAMP_NAME) for name in self.dirs)
            if revision:
                found.append("ansistrano")
            if unfinished or (stamped and not revision):
                found.append("deploy_helper")
        return found


# -- per tool: complete releases in order, unfinished ones with the reason -------------------------------------------

def _ordered_by_names(complete, pattern, tool, fmt_text, utc):
    """Order ``complete`` by the timestamp in their names; a reason (order unknown) when a name does not carry one."""
    stamps = {name: _parse_name(name, pattern) for name in complete}
    if not all(stamps.values()):
        return "%s keeps no record of the order, and %s are not named in its default format %s" % (
            tool, ", ".join(sorted(name for name in complete if not stamps[name])), fmt_text)
    ordered = sorted(complete, key=lambda name: stamps[name])
    created = {name: isoformat(stamps[name].replace(tzinfo=datetime.timezone.utc)) if utc else None for name in ordered}
    return ordered, created, "release names (%s %s)" % (tool, fmt_text)


def _ansistrano(layout):
    complete, unfinished = [], []
    for name in layout.dirs:
        if layout.has(name, REVISION):
            complete.append(name)
        else:
            unfinished.append((name, "no REVISION file: ansistrano writes it at the end of update-code, so this release was never "
                                     "completely made (a deploy that was killed)"))
    return complete, unfinished, _ordered_by_names(complete, _ANSISTRANO_NAME, "ansistrano", "date -u +%Y%m%d%H%M%SZ", True), {}


def _deploy_helper(layout):
    complete, unfinished = [], []
    for name in layout.dirs:
        if layout.has(name, DEPLOY_HELPER_UNFINISHED):
            unfinished.append((name, "%s is there: deploy_helper state=finalize never ran for it" % DEPLOY_HELPER_UNFINISHED))
        else:
            complete.append(name)
    # deploy_helper's default names are the host's local time (time.strftime): ordered, but not UTC.
    return complete, unfinished, _ordered_by_names(complete, _TIMESTAMP_NAME, "deploy_helper", "%Y%m%d%H%M%S", False), {}


def _capistrano(layout):
    log = os.path.join(layout.root, CAPISTRANO_LOG)
    logged = []
    try:
        with open(log, "rb") as handle:
            for raw in handle:
                match = _CAPISTRANO_DEPLOYED.search(raw.decode("utf-8", "replace"))
                if match and match.group(1) not in logged:
                    logged.append(match.group(1))
    except OSError as exc:
        raise AdoptError("cannot read %s: %s" % (log, exc))
    complete = [name for name in logged if name in layout.dirs]
    unfinished = [(name, "not in %s: Capistrano logs a release when its deploy finished (deploy:log_revision), so this deploy "
                         "did not finish" % CAPISTRANO_LOG) for name in layout.dirs if name not in logged and name != layout.current]
    created = {}
    for name in complete:
        stamp = _parse_name(name, _TIMESTAMP_NAME)
        created[name] = isoformat(stamp.replace(tzinfo=datetime.timezone.utc)) if stamp else None  # Capistrano stamps in UTC
    if layout.current in layout.dirs and layout.current not in logged:
        # current switched but log_revision never ran (the deploy failed in cleanup): live, position unknown.
        return complete + [layout.current], unfinished, "current (%s) is not in %s (its deploy failed after the switch)" % (
            layout.current, CAPISTRANO_LOG), {}
    return complete, unfinished, (complete, created, "%s (order of 'deployed as release' lines)" % CAPISTRANO_LOG), {}


def _deployer_time(text):
    try:
        return isoformat(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z"))
    except (TypeError, ValueError):
        return None


def _deployer(layout):
    log = os.path.join(layout.root, DEPLOYER_LOG)
    logged, created = [], {}
    try:
        with open(log, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    raise AdoptError("%s line %d is not JSON (%r); fix or remove that line" % (log, number, line[:80]))
                name = str(entry.get("release_name")) if isinstance(entry, dict) and entry.get("release_name") is not None else None
                if name and name not in logged:
                    logged.append(name)
                    created[name] = _deployer_time(entry.get("created_at"))
    except OSError as exc:
        raise AdoptError("cannot read %s: %s" % (log, exc))
    building = _link_release(layout.root, layout.releases_dir, DEPLOYER_RELEASE_LINK)
    complete, unfinished = [], []
    for name in logged:
        if name not in layout.dirs:
            continue
        if name == building and name != layout.current:
            unfinished.append((name, "Deployer's %s symlink points at it: its deploy is running or failed before deploy:symlink"
                                     % DEPLOYER_RELEASE_LINK))
        else:
            complete.append(name)
    unfinished += [(name, "not in %s: Deployer logs every release it starts, so this directory was not made by it" % DEPLOYER_LOG)
                   for name in layout.dirs if name not in logged and name != layout.current]
    bad = {}
    for name in complete:
        if layout.has(name, DEPLOYER_BAD):
            # Deployer's rollback writes "<timestamp>,<user>" into the release it left.
            stamp, dummy, user = (_read_text(os.path.join(layout.releases_dir, name, DEPLOYER_BAD)) or "").partition(",")
            bad[name] = {"by": user or None, "at": _deployer_time(stamp), "run_id": None,
                         "reason": "marked %s by Deployer's rollback (adopted)" % DEPLOYER_BAD}
    if layout.current in layout.dirs and layout.current not in logged:
        return complete + [layout.current], unfinished, "current (%s) is not in %s" % (layout.current, DEPLOYER_LOG), bad
    return complete, unfinished, (list(complete), {name: created.get(name) for name in complete},
                                  "%s (order of its lines)" % DEPLOYER_LOG), bad


_READERS = {"ansistrano": _ansistrano, "capistrano": _capistrano, "deployer": _deployer, "deploy_helper": _deploy_helper}


# -- the plan ----------------------------------------------------------------------------------------------------

def plan(app_root, tool=None, order=None):
    """Read the host and say what adoption would write. Raises AdoptError when it cannot be adopted as asked.

    Returns ``{from, detected, order_source, releases: [{id, sequence, created_at, revision, shared_paths}], unfinished:
    [{id, reason}], skipped: [{id, reason}], ours: [ids], current, previous, shared_paths, bad}``.
    """
    layout = Layout(app_root)
    detected = layout.detect()
    if tool is None:
        if not detected:
            raise AdoptError("the layout under %s is not one of ansistrano, capistrano, deployer or deploy_helper (no %s, no %s, no "
                             "REVISION or %s in any release); say which tool made it with from (fleet_adopt_from)"
                             % (layout.root, CAPISTRANO_LOG, DEPLOYER_LOG, DEPLOY_HELPER_UNFINISHED))
        if len(detected) > 1:
            raise AdoptError("the layout under %s carries traces of %s; say which tool made it with from (fleet_adopt_from)"
                             % (layout.root, " and ".join(detected)))
        tool = detected[0]
    elif tool not in TOOLS:
        raise AdoptError("from must be one of %s, got %r" % (", ".join(TOOLS), tool))
    complete, unfinished, ordered, bad = _READERS[tool](layout)
    if layout.current is not None and layout.current not in complete and layout.current not in layout.ours:
        raise AdoptError("current points at %s, which %s; fix the symlink or finish that release before adopting" % (
            layout.current, "is not a complete release of %s" % tool if layout.current in layout.dirs else "does not exist under %s" % layout.releases_dir))
    if order:
        ordered = _explicit_order(order, complete, tool)
    elif isinstance(ordered, str):
        raise AdoptError("cannot know the order of the %s releases under %s: %s; pass order (fleet_adopt_order) with these ids, "
                         "oldest first: %s" % (tool, layout.releases_dir, ordered, ", ".join(sorted(complete))))
    names, created, source = ordered
    releases = []
    for index, name in enumerate(names):
        release_dir = os.path.join(layout.releases_dir, name)
        releases.append({
            "id": name, "sequence": index + 1, "created_at": created.get(name), "created_by": ADOPTED_BY + tool,
            "revision": _read_text(os.path.join(release_dir, REVISION)) if layout.has(name, REVISION) else None,
            "shared_paths": shared_links(release_dir, layout.store.shared_dir),
        })
    _check_sequences(layout, releases, source)
    current = layout.current
    previous = None
    if current in names and names.index(current) > 0:
        previous = names[names.index(current) - 1]
    return {
        "app_root": layout.root, "from": tool, "detected": detected, "order_source": source, "releases": releases,
        "unfinished": [{"id": name, "reason": reason} for name, reason in unfinished],
        "skipped": [{"id": name, "reason": "not a valid release id of this collection; left alone"} for name in layout.invalid],
        "ours": sorted(layout.ours, key=lambda name: layout.ours[name].get("sequence", 0)),
        "current": current, "previous": previous,
        "shared_paths": sorted({path for release in releases for path in release["shared_paths"]}),
        "bad": bad,
    }


def _explicit_order(order, complete, tool):
    names = [str(name) for name in order]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    unknown = [name for name in names if name not in complete]
    missing = [name for name in complete if name not in names]
    if duplicates or unknown or missing:
        raise AdoptError("order must name every complete %s release once, oldest first: %s" % (tool, "; ".join(
            part for part in (
                "named twice: %s" % ", ".join(duplicates) if duplicates else "",
                "not complete releases here: %s" % ", ".join(unknown) if unknown else "",
                "missing: %s" % ", ".join(missing) if missing else "",
            ) if part)))
    return names, {}, "order option"


def _check_sequences(layout, releases, source):
    """Adoption numbers the old tool's releases 1..N. A release adopted before keeps its number, and no number may be
    taken by another release (one this collection deployed since): the ledger order would then be a guess."""
    taken = {manifest.get("sequence"): name for name, manifest in list(layout.ours.items()) + list(layout.adopted.items())}
    for release in releases:
        known = layout.adopted.get(release["id"])
        if known is not None and known.get("sequence") != release["sequence"]:
            raise AdoptError("release %s was adopted with sequence %s, the order read now (%s) puts it at %s; a first adoption "
                             "stands: pass order (fleet_adopt_order) in the first order (release_info lists it)"
                             % (release["id"], known.get("sequence"), source, release["sequence"]))
        holder = taken.get(release["sequence"])
        if known is None and holder is not None and holder != release["id"]:
            raise AdoptError("release %s would take sequence %d, which %s already has; the old tool deployed after this collection "
                             "did: adoption only takes over a host before this collection deploys to it" % (
                                 release["id"], release["sequence"], holder))


# -- writing ----------------------------------------------------------------------------------------------------

def manifest_of(release):
    return {"id": release["id"], "artifact_sha256": None, "created_at": release["created_at"], "created_by": release["created_by"],
            "sequence": release["sequence"], "shared_paths": release["shared_paths"], "revision": release["revision"]}


def _without_time(state):
    return {key: value for key, value in state.items() if key != "updated_at"}


def desired_state(store, adoption):
    """state.json after adoption: current and previous only when no operation of this collection set them yet, the old
    tool's bad marks added (never replacing a mark of ours), and the adoption record."""
    before = store.read_state()
    after = json.loads(json.dumps(before))
    if not before.get("current"):
        after["current"] = adoption["current"]
        after["previous"] = adoption["previous"]
    for name, mark in adoption["bad"].items():
        after["bad"].setdefault(name, mark)
    record = {"from": adoption["from"], "order_source": adoption["order_source"],
              "releases": [release["id"] for release in adoption["releases"]],
              "unfinished": [item["id"] for item in adoption["unfinished"]], "shared_paths": adoption["shared_paths"]}
    known = before.get("adopted") or {}
    if {key: value for key, value in known.items() if key not in ("at", "by")} != record:
        after["adopted"] = dict(record, at=None, by=None)
    return before, after


def apply(adoption, actor=None, check_mode=False, now=None, run_id=None):
    """Write the manifests and state.json the plan says. Returns ``(changed, written, before, after)``: ``written`` the
    release ids whose manifest is (or would be) written, ``before``/``after`` the state without its time stamp.
    ``run_id``: the run that holds the host lock (adopt.yml locks each host before it adopts); any other lock refuses."""
    store = ReleaseStore(adoption["app_root"])
    lock = read_json(store.lock_path) if os.path.exists(store.lock_path) else None
    if lock and not (run_id and isinstance(lock, dict) and lock.get("run_id") == run_id):
        raise AdoptError("%s is locked by %s (%s); wait for that run to finish before adopting" % (
            store.root, lock.get("holder") if isinstance(lock, dict) else lock, store.lock_path))
    written = []
    for release in adoption["releases"]:
        if store.manifest(release["id"]) != manifest_of(release):
            written.append(release["id"])
    before, after = desired_state(store, adoption)
    state_changed = _without_time(before) != _without_time(after)
    now = now or utc_now()
    if state_changed and after.get("adopted") and after["adopted"].get("at") is None:
        after["adopted"].update(at=isoformat(now), by=actor)
    if not check_mode:
        for release in adoption["releases"]:
            if release["id"] in written:
                atomic_write_json(os.path.join(store.release_path(release["id"]), MANIFEST_NAME), manifest_of(release))
        if state_changed:
            os.makedirs(store.fleet_dir, 0o755, exist_ok=True)
            store.write_state(after, now)
            store.append_history({"time": isoformat(now), "event": "adopt", "from": adoption["from"], "actor": actor, "run_id": run_id,
                                  "releases": after["adopted"]["releases"] if after.get("adopted") else None,
                                  "current": adoption["current"]})
    return bool(written) or state_changed, written, _without_time(before), _without_time(after)


# -- the fleet-wide preflight -----------------------------------------------------------------------------------

def _most(values):
    """The value most hosts have (ties: the smallest, so that every host computes the same)."""
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[0][0] if counts else None


def judge(reads):
    """``{host: problem}`` for the hosts that must not be adopted as they are, from each host's read-only adoption
    result (``None``: the host was not read). A host fails on its own (unknown layout, unknown order, locked) or
    disagrees with most hosts: another tool, another current release, releases missing that most hosts have."""
    problems = {}
    good = {}
    for host, read in sorted(reads.items()):
        if not isinstance(read, dict) or (read.get("from") is None and not read.get("msg")):
            problems[host] = "not read (unreachable?)"
        elif read.get("from") is None:
            problems[host] = " ".join(str(read["msg"]).split())
        else:
            good[host] = read
    tool = _most(read["from"] for read in good.values())
    current = _most(read.get("current") for read in good.values())
    common = _most(tuple(read.get("release_ids") or ()) for read in good.values()) or ()
    for host, read in good.items():
        found = []
        if read["from"] != tool:
            found.append("laid out by %s, most hosts by %s" % (read["from"], tool))
        if read.get("current") != current:
            found.append("current is %s, on most hosts %s" % (read.get("current"), current))
        missing = [name for name in common if name not in (read.get("release_ids") or ())]
        if missing:
            found.append("missing releases that most hosts have: %s" % ", ".join(missing))
        if found:
            problems[host] = "; ".join(found)
    return problems
