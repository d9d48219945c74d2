# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a release's code can run against a database's schema (pure judgement, no database, no commands).

A release declares its schema (deploy variable ``fleet_release_schema``, kept in its manifest ``.fleet-release.json``
under ``schema``)::

    tool: alembic            # the migration tool (the same as fleet_db.tool)
    version: "0002"          # the schema version its migrations bring the database to
    min_version: "0001"      # optional: the oldest schema version its code still runs against
    expand_only: ["0002"]    # optional: its migrations that are expand-only (older code keeps running after them)

The schema state is what ``schema_info`` read (``_schema.schema_info``). A rollback's target can run against the
schema when the database is at the target's version, or newer only by migrations some release declared
expand-only; otherwise the migrations in the way are listed and the run refuses, or takes the schema back
(``fleet_schema_rollback``), or goes ahead with an audited reason (``fleet_schema_override_reason``). Failed
migrations and checksum problems always refuse: the database is not in a state anyone declared.
"""

from __future__ import annotations

import os

from ansible_collections.fleetops.release.plugins.module_utils._schema import (
    FLYWAY_NO_VERSION_TYPES,
    FLYWAY_REMOVING_TYPES,
    TOOL_NAMES,
    SchemaError,
    check_tool,
    flyway_version_key,
)

DECLARATION_KEYS = ("tool", "version", "min_version", "expand_only")
ROLLBACK_HINT = "-e fleet_schema_rollback=true"
OVERRIDE_HINT = '-e fleet_schema_override_reason="<why>"'


def check_declaration(declaration, release):
    """The declaration of ``release`` normalised (versions as strings), or a SchemaError naming what is wrong."""
    where = "the schema declaration of release %s (fleet_release_schema)" % release
    if not isinstance(declaration, dict):
        raise SchemaError("%s must be a dict with tool, version and optionally min_version and expand_only, not %r"
                          % (where, declaration))
    unknown = sorted(set(declaration) - set(DECLARATION_KEYS))
    if unknown:
        raise SchemaError("%s has unknown keys %s: use %s" % (where, ", ".join(unknown), ", ".join(DECLARATION_KEYS)))
    try:
        check_tool(declaration.get("tool"))
    except SchemaError as exc:
        raise SchemaError("%s: %s" % (where, exc))
    out = {"tool": declaration["tool"]}
    for key in ("version", "min_version"):
        value = declaration.get(key)
        if value is not None and (isinstance(value, (bool, dict, list)) or str(value).strip() == ""):
            raise SchemaError("%s: %s must be a schema version (a string such as \"0002\" or \"1.1\"), not %r"
                              % (where, key, value))
        out[key] = None if value is None else str(value).strip()
    if out["version"] is None:
        raise SchemaError("%s has no version: give the schema version its migrations bring the database to" % where)
    expand = declaration.get("expand_only") or []
    if isinstance(expand, str) or not isinstance(expand, (list, tuple)):
        raise SchemaError("%s: expand_only must be a list of migration versions, not %r" % (where, expand))
    out["expand_only"] = [str(item).strip() for item in expand]
    return out


def same_version(tool, left, right):
    if left is None or right is None:
        return False
    left, right = str(left).lstrip("@"), str(right).lstrip("@")
    if tool == "flyway":
        return flyway_version_key(left) == flyway_version_key(right)
    return left == right


def effective_history(info):
    """The migrations the database has now, oldest first: [{version, description, tags}].

    Flyway: successful versioned migrations minus undone ones, in version order; Liquibase: the executed changesets
    in order (with their tag); Alembic: the applied chain (needs the script directory for more than the head);
    Sqitch: the deployed changes with their tags."""
    tool = info["tool"]
    applied = info.get("applied") or []
    if tool == "flyway":
        versions = {}
        for entry in applied:
            if not entry.get("success") or entry.get("version") is None or entry.get("type") in FLYWAY_NO_VERSION_TYPES:
                continue
            key = flyway_version_key(entry["version"])
            if entry.get("type") in FLYWAY_REMOVING_TYPES:
                versions.pop(key, None)
            else:
                versions[key] = {"version": entry["version"], "description": entry.get("description"), "tags": []}
        return [versions[key] for key in sorted(versions)]
    history = []
    for entry in applied:
        if entry.get("success") is False:
            continue
        tags = list(entry.get("tags") or [])
        if entry.get("tag"):
            tags.append(entry["tag"])
        history.append({"version": entry["version"], "description": entry.get("description"),
                        "tags": [str(tag).lstrip("@") for tag in tags]})
    return history


def position(tool, history, ref):
    """Index in history of the migration ``ref`` names (a version, or for Liquibase and Sqitch a tag), or None."""
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        if same_version(tool, entry["version"], ref) or str(ref).lstrip("@") in entry["tags"]:
            return index
    return None


def integrity_problems(info):
    """Messages for failed (half-applied) migrations and checksum problems: these refuse every run."""
    name = TOOL_NAMES[info["tool"]]
    lines = ["failed migration %s (%s): %s recorded it as failed; repair the database and the history first (%s)"
             % (entry.get("version"), entry.get("description") or entry.get("script") or "-", name, REPAIR[info["tool"]])
             for entry in info.get("failed_migrations") or []]
    lines += [problem.get("message") or "%s: %s" % (problem.get("version"), problem.get("problem"))
              for problem in info.get("checksum_problems") or []]
    return lines


REPAIR = {
    "flyway": "fix the migration, then `flyway repair` removes the failed row",
    "liquibase": "fix the changeset and run `liquibase update` again, or remove the FAILED row",
    "alembic": "Alembic records no failures",
    "sqitch": "fix the change and `sqitch deploy` it again",
}


def describe_entries(entries):
    return ["%s%s" % (entry["version"], (" (%s)" % entry["description"]) if entry.get("description") else "")
            for entry in entries]


def _opening(release, declaration, info, result, repair):
    """The opening both judgements share: the history's integrity, the declaration checked, its tool. Returns the
    normalised declaration (and sets result's target_version), or None: with result's message set for a refusal,
    without one when ``release`` declares no schema (each judgement says that in its own words)."""
    problems = integrity_problems(info)
    if problems:
        result["message"] = ("the database's schema history is not in a known state (%s):\n  %s\n%s"
                             % (info.get("database"), "\n  ".join(problems), repair))
        return None
    if declaration is None:
        return None
    declaration = check_declaration(declaration, release)
    if declaration["tool"] != info["tool"]:
        result["message"] = ("release %s declares its schema for %s, but fleet_db.tool is %s: fix one of them"
                             % (release, declaration["tool"], info["tool"]))
        return None
    result["target_version"] = declaration["version"]
    return declaration


def fit(tool, declaration, history, expand_only=()):
    """Whether the code of a release declared by ``declaration`` (normalised) runs against a database whose history
    is ``history`` (effective_history, oldest first): the one judgement of the rollback guard, the deploy's revert
    and status.yml. {runs, known (the database has the release's version), older (the database is behind it, not
    behind its min_version), in_the_way (migrations after its version), blocking (those not declared expand-only)}.
    ``expand_only``: what every release declared expand-only (versions, or tags)."""
    result = {"runs": False, "known": False, "older": False, "in_the_way": [], "blocking": []}
    where = position(tool, history, declaration["version"])
    if where is None:
        floor = declaration.get("min_version")
        result["runs"] = result["older"] = floor is not None and position(tool, history, floor) is not None
        return result
    expand = set(str(item).lstrip("@") for item in expand_only or ()) | set(declaration["expand_only"])
    result["known"] = True
    result["in_the_way"] = history[where + 1:]
    result["blocking"] = [entry for entry in result["in_the_way"] if not _declared(tool, entry, expand)]
    result["runs"] = not result["blocking"]
    return result


def judge_rollback(release, declaration, info, expand_only=(), rollback=False, override_reason=None):
    """What a rollback to ``release`` must do about the schema state ``info`` (a schema_info result).

    Returns {verdict, current, target_version, in_the_way, blocking, message}: verdict ``ok`` (the target runs
    against the schema as it is), ``downgrade`` (asked to take the schema back to target_version), ``override``
    (blocked, but an operator's reason lets the code go back anyway) or ``refuse`` (message says why and what to do).
    ``expand_only``: every migration any release on the hosts declared expand-only."""
    current = info.get("current_version")
    result = {"verdict": "refuse", "release": release, "current": current, "target_version": None,
              "in_the_way": [], "blocking": [], "irreversible": [], "message": None}
    declaration = _opening(release, declaration, info, result, "No override applies to this: repair the history first.")
    if declaration is None:
        if result["message"] is not None:
            return result
        result["message"] = ("release %s declares no schema (its manifest has none: it was deployed without "
                             "fleet_release_schema), so whether its code runs against schema %s cannot be judged. "
                             "Roll back anyway with %s (audited), or deploy the release again with fleet_release_schema."
                             % (release, current, OVERRIDE_HINT))
        return _overridable(result, override_reason)
    tool = info["tool"]
    target = declaration["version"]
    judged = fit(tool, declaration, effective_history(info), expand_only)
    if judged["older"]:
        result.update(verdict="ok", message="schema %s is older than %s's %s but not older than its min_version %s"
                      % (current, release, target, declaration["min_version"]))
        return result
    if not judged["known"]:
        result["message"] = ("release %s needs schema %s, which the database (%s) does not have: it is at %s. "
                             "Bring the schema to %s first (migrate), or roll back anyway with %s (audited)."
                             % (release, target, info.get("database"), current or "nothing applied", target, OVERRIDE_HINT))
        return _overridable(result, override_reason)
    result.update(in_the_way=judged["in_the_way"], blocking=judged["blocking"])
    if judged["runs"]:
        result.update(verdict="ok", message=(
            "schema %s: the migrations after %s are all expand-only (%s); the schema stays as it is"
            % (current, target, ", ".join(e["version"] for e in result["in_the_way"])) if result["in_the_way"] else
            "the database is at %s's schema %s" % (release, target)))
        return result
    result["irreversible"] = irreversible(info, [entry["version"] for entry in result["blocking"]])
    if rollback:
        if result["irreversible"]:
            result["message"] = ("the schema cannot be taken back to %s: %s %s no downgrade. Restore a backup taken "
                                 "before them by hand, or roll the code back anyway with %s (audited)."
                                 % (target, ", ".join(result["irreversible"]),
                                    "has" if len(result["irreversible"]) == 1 else "have", OVERRIDE_HINT))
            return _overridable(result, override_reason)
        result.update(verdict="downgrade", message="the schema goes back from %s to %s (%s) before the code"
                      % (current, target, ", ".join(e["version"] for e in result["blocking"])))
        return result
    lines = describe_entries(result["blocking"])
    result["message"] = (
        "release %s (schema %s, %s) cannot run against the database's schema %s: these migrations applied since are "
        "in the way (none declared expand-only):\n    %s\nDo one of:\n    %s   take the schema back to %s first "
        "(verified backup, the tool's downgrade, read again), then the code\n    %s   roll the code back anyway "
        "(audited)" % (release, target, TOOL_NAMES[tool], current, "\n    ".join(lines), ROLLBACK_HINT, target,
                       OVERRIDE_HINT))
    return _overridable(result, override_reason)


def _overridable(result, override_reason):
    if override_reason and str(override_reason).strip():
        result["verdict"] = "override"
    return result


def _declared(tool, entry, expand):
    return any(same_version(tool, entry["version"], item) for item in expand) or bool(set(entry["tags"]) & expand)


def irreversible(info, versions):
    """The versions among ``versions`` whose migration has no downgrade, as far as the tool's files tell: Alembic
    (``downgrade()`` missing or a no-op, from the graph), Sqitch (no revert script), Flyway (no ``U`` undo script);
    Liquibase's rollback blocks are not read (empty list)."""
    tool = info["tool"]
    directory = info.get("migrations_dir")
    found = []
    if tool == "alembic" and info.get("graph"):
        by_name = {node["revision"]: node for node in info["graph"]["revisions"]}
        found = [version for version in versions if version in by_name and not by_name[version]["has_downgrade"]]
    elif tool == "sqitch" and directory:
        found = [version for version in versions if not os.path.isfile(os.path.join(directory, "revert", "%s.sql" % version))]
    elif tool == "flyway" and directory:
        undo = set()
        for _root, _dirs, files in os.walk(directory):
            for name in files:
                if name.startswith("U") and "__" in name and name.endswith(".sql"):
                    undo.add(flyway_version_key(name[1:].split("__", 1)[0].replace("_", ".")))
        found = [version for version in versions if flyway_version_key(version) not in undo]
    return found


def judge_deploy(release, declaration, info, require_reversible=True, expand_only=()):
    """What a deploy of ``release`` must do about the schema: {verdict, current, target_version, to_run,
    irreversible, message}; verdict ``migrate`` (to_run, oldest first), ``current`` (nothing to run) or ``refuse``."""
    result = {"verdict": "refuse", "release": release, "current": info.get("current_version"), "target_version": None,
              "to_run": [], "irreversible": [], "message": None}
    declaration = _opening(release, declaration, info, result, "Repair it before deploying.")
    if declaration is None:
        if result["message"] is None:
            result["message"] = ("fleet_db is set but release %s declares no schema: set fleet_release_schema (tool, "
                                 "version, and min_version or expand_only), so that later rollbacks can be judged"
                                 % release)
        return result
    tool = info["tool"]
    target = declaration["version"]
    history = effective_history(info)
    if position(tool, history, target) is not None:
        # Already there, or the database is newer: then this deploy is a rollback of the schema in disguise.
        judged = judge_rollback(release, declaration, info, expand_only)
        if judged["verdict"] == "ok":
            result.update(verdict="current", message="the database is at %s already" % info.get("current_version"))
        else:
            result["message"] = judged["message"].replace(OVERRIDE_HINT, "playbooks/rollback.yml")
        return result
    if not info.get("migrations_dir"):
        result["message"] = ("release %s brings schema %s, but fleet_db.migrations_dir is not set: give the folder of "
                             "its %s migrations on the host the database steps run on" % (release, target, TOOL_NAMES[tool]))
        return result
    pending = info.get("pending") or []
    index = next((i for i, entry in enumerate(pending) if same_version(tool, entry["version"], target)), None)
    if index is None:
        result["message"] = ("release %s declares schema %s, but %s has no such pending migration (pending: %s): "
                             "check fleet_release_schema.version and fleet_db.migrations_dir"
                             % (release, target, info["migrations_dir"], ", ".join(e["version"] for e in pending) or "none"))
        return result
    result["to_run"] = [{"version": entry["version"], "description": entry.get("description")} for entry in pending[:index + 1]]
    expand = set(declaration["expand_only"]) | set(expand_only or ())
    result["irreversible"] = [version for version in irreversible(info, [e["version"] for e in result["to_run"]])
                              if not any(same_version(tool, version, item) for item in expand)]
    if result["irreversible"] and require_reversible:
        result["message"] = ("release %s brings migrations that cannot be undone: %s (no downgrade) and declares none "
                             "of them expand-only. Add a downgrade, declare them in fleet_release_schema.expand_only if "
                             "older code runs after them, or deploy with -e fleet_schema_require_reversible=false"
                             % (release, ", ".join(result["irreversible"])))
        return result
    result.update(verdict="migrate", message="migrations to run, oldest first: %s" % ", ".join(
        e["version"] for e in result["to_run"]))
    return result


def revert_plan(info, to_run, running, declarations, expand_only=()):
    """Whether a deploy that runs ``to_run`` must take the schema back when its waves are reverted: the releases of
    ``running`` (live on the hosts before the deploy) whose code cannot run against the schema after ``to_run``
    (fit), with why. A release that declares no schema can run only when every migration of to_run is declared
    expand-only. Empty: the migrations can stay when the code goes back."""
    tool = info["tool"]
    expand = set(str(item).lstrip("@") for item in expand_only or ())
    coming = [{"version": entry["version"], "description": entry.get("description"), "tags": []} for entry in to_run]
    after = effective_history(info) + coming
    blocked = []
    for release in running:
        declaration = declarations.get(release)
        if declaration is None:
            if not all(_declared(tool, entry, expand) for entry in coming):
                blocked.append({"release": release, "why": "declares no schema, and not every migration is expand-only"})
            continue
        judged = fit(tool, check_declaration(declaration, release), after, expand)
        if not judged["runs"]:
            blocked.append({"release": release, "why": "cannot run against %s: %s in the way" % (
                to_run[-1]["version"] if to_run else info.get("current_version"),
                ", ".join(describe_entries(judged["blocking"])) or "its schema is gone")})
    return blocked


def refuse_incompatible(result, blocked, require_compatible=True, blocked_now=()):
    """A deploy's verdict once revert_plan named the live releases that cannot run against the migrated schema
    (``blocked``): during the waves the hosts not yet switched keep serving on that code, so with
    ``require_compatible`` the deploy is refused (verdict ``refuse``) before anything runs; else it goes ahead and a
    revert takes the schema back first. Releases that cannot run against the schema as it is already (``blocked_now``,
    revert_plan with nothing to run: an earlier override) are not this deploy's doing and do not refuse it.
    Returns ``result``, updated."""
    blocked = [entry for entry in blocked if entry["release"] not in set(blocked_now)]
    if not blocked or not require_compatible or result.get("verdict") != "migrate":
        return result
    result.update(verdict="refuse", message=(
        "release %s brings migrations the code live on the hosts cannot run against (%s), and those hosts keep serving "
        "on it until their wave switches them. Make the change expand-only first (declare those migrations in "
        "fleet_release_schema.expand_only once older code runs after them, and contract in a later release), or, in a "
        "maintenance window, deploy with -e fleet_schema_require_compatible=false (a revert then takes the schema back "
        "before the code)" % (result["release"], "; ".join("%s %s" % (entry["release"], entry["why"]) for entry in blocked))))
    return result


def judge_status(info, releases, declarations, expand_only=()):
    """status.yml: whether each of ``releases`` (the ids on the hosts) can run against the schema as it is, by the
    rollback guard's own judgement (judge_rollback, nothing asked). {release: {runs (true, false, or null when it
    declares no schema), version (its declared schema), message}}; the history's problems are judge_rollback's too."""
    out = {}
    for release in releases:
        declaration = declarations.get(release)
        try:
            judged = judge_rollback(release, declaration, info, expand_only)
        except SchemaError as exc:  # a manifest with a declaration the guard would refuse: say so, do not fail status
            out[release] = {"runs": False, "version": None, "message": str(exc)}
            continue
        runs = judged["verdict"] == "ok"
        if declaration is None and not integrity_problems(info):
            runs = None
        # One line for a table: the blocking migrations, else the judgement's own words.
        out[release] = {"runs": runs, "version": judged["target_version"], "message":
                        "cannot run: %s in the way" % ", ".join(describe_entries(judged["blocking"])) if judged["blocking"]
                        else " ".join(line.strip() for line in judged["message"].splitlines())}
    return out
