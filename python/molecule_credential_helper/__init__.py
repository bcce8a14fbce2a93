"""Keeps GitHub App installation tokens fresh inside workspace containers.

The drop-in for a Python runtime's start-up::

    from molecule_credential_helper import install_credential_helper
    install_credential_helper()

Each function runs the ``molecule-credential-helper`` command this wheel
installed (``install``, ``status`` or ``uninstall`` with ``--json``) and
returns its JSON report as a dict. None of them raises: a command that
cannot run, or says something that is not its report, becomes a report that
says so. Why a command and not an extension module: docs/design.md, "The
Python package".
"""

import csv
import json
import os
import subprocess
import tempfile

__all__ = ["install_credential_helper", "status", "uninstall", "token", "binary_path"]

_COMMAND = "molecule-credential-helper"

#: The provision-time token variables: gh prefers them to its refreshed
#: login in every process that inherits them.
ENV_TOKEN_VARS = ("GH_TOKEN", "GITHUB_TOKEN")

#: The install steps, in the order they run (for a report made here when
#: the command could not run).
STEPS = ("scripts", "token-cache", "git-config", "refresh-daemon", "gh-auth")

# install's own worst case is 30 s for another install's lock plus 10 s per
# hung `git config`; it never waits on the network. Past this, give up.
_TIMEOUT_SEC = 120

# A wheel's RECORD lists a few dozen files; read no more than this of it.
_RECORD_LIMIT = 1024 * 1024


def binary_path():
    """The ``molecule-credential-helper`` this wheel installed, or None.

    Only that one: the file the wheel's own ``RECORD`` lists as its command,
    next to this module. Never one found through ``HOME`` (``~/.local/bin``)
    or ``PATH``: a runtime running as root, or with another user's HOME,
    must not run a binary that user planted."""
    here = os.path.dirname(os.path.abspath(__file__))
    site = os.path.dirname(here)
    try:
        entries = sorted(os.listdir(site))
    except OSError:
        return None
    prefix = __name__.split(".")[0] + "-"
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".dist-info")):
            continue
        record = os.path.join(site, entry, "RECORD")
        try:
            with open(record, "r", encoding="utf-8", errors="replace") as f:
                text = f.read(_RECORD_LIMIT)
        except OSError:
            continue
        for row in csv.reader(text.splitlines()):
            if not row or os.path.basename(row[0]) != _COMMAND:
                continue
            candidate = os.path.normpath(os.path.join(site, row[0]))
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def _run(args, home, user):
    """Runs the command with --json; returns (parsed JSON or None, a reason
    when there is none)."""
    binary = binary_path()
    if binary is None:
        return None, "%s not found next to this module (is the wheel installed?)" % _COMMAND
    argv = [binary] + list(args) + ["--json"]
    if home is not None:
        argv += ["--home", os.fspath(home)]
    if user is not None:
        argv += ["--user", str(user)]
    # Files, not pipes: the daemon the install starts is detached and never
    # holds them, but a file cannot keep this call waiting for an EOF anyway.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            timeout=_TIMEOUT_SEC,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        text = out.read().decode("utf-8", "replace")
        errors = err.read().decode("utf-8", "replace").strip().splitlines()
    try:
        return json.loads(text), None
    except ValueError:
        last = errors[-1] if errors else "no output"
        return None, "%s %s exited %s: %s" % (_COMMAND, args[0], proc.returncode, last)


def _call(args, home, user, when_failed):
    try:
        report, reason = _run(args, home, user)
    except Exception as e:  # never raise into the runtime's start-up
        report, reason = None, "%s %s: %s" % (_COMMAND, args[0], e)
    if isinstance(report, dict):
        return report
    return when_failed(reason or "no report")


def install_credential_helper(home=None, user=None, keep_env_tokens=False):
    """Runs the five install steps for ``home`` (default: $HOME), or, as
    root, for ``user`` (its home from passwd, run as that user), and returns
    the report: ``{"steps": [{"step", "outcome", "detail"}], "warnings":
    [...], "problems": [...], "env_tokens_removed": [...]}``, outcome one of
    changed, unchanged, skipped, failed. ``problems`` lists what keeps git
    from getting a platform token (a settings problem; a last fetch that
    failed with nothing cached, with its fix): a runtime that checks one
    list checks that one. Fail-soft and idempotent; takes
    milliseconds; never waits on the network; never raises.

    Once install has handed the provision token over (gh primed, the
    helper's fallback saved nowhere), ``GH_TOKEN`` and ``GITHUB_TOKEN`` are
    removed from ``os.environ``: gh prefers them to its refreshed login, so
    every gh this runtime starts would fail an hour later. The report's
    ``env_tokens_removed`` names them. ``keep_env_tokens=True`` keeps them.
    Other programs get a current token from :func:`token`."""
    report = _call(
        ["install"],
        home,
        user,
        lambda reason: {
            "steps": [{"step": s, "outcome": "failed", "detail": reason} for s in STEPS],
            "warnings": [],
            "problems": [],
            "not_run": True,
        },
    )
    removed = []
    # Only when the command ran: if it could not, the provision token is
    # all this runtime has.
    if not keep_env_tokens and not report.pop("not_run", False):
        for key in ENV_TOKEN_VARS:
            if os.environ.pop(key, None) is not None:
                removed.append(key)
    report["env_tokens_removed"] = removed
    return report


def token(home=None):
    """The token git would get now, as a string, or None when there is none
    (the reason went to the command's stderr). Ask it once per client (an
    SDK session, an MCP server's request) rather than once per process: it
    is a cache hit, else one single-flight platform fetch. Never raises."""
    try:
        report, _ = _run(["token"], home, None)
    except Exception:  # never raise into the runtime
        return None
    value = report.get("token") if isinstance(report, dict) else None
    if isinstance(value, str) and value and all(c.isalnum() and c.isascii() or c in "._-" for c in value):
        return value
    return None


def status(home=None, user=None):
    """The read-only health check: ``{"healthy": bool, "checks": [{"name",
    "level", "detail"}]}``. ``user``: as root, check that user's install as
    that user. Never raises."""
    return _call(
        ["status"],
        home,
        user,
        lambda reason: {
            "healthy": False,
            "checks": [{"name": "status", "level": "fail", "detail": reason}],
        },
    )


def uninstall(home=None, user=None):
    """Stops the daemon and removes our git values, scripts and cache:
    ``{"done", "stopped", "removed", "kept", "errors"}``. ``user``: as root,
    uninstall that user's install as that user. Never raises."""
    return _call(
        ["uninstall"],
        home,
        user,
        lambda reason: {
            "done": [],
            "stopped": [],
            "removed": [],
            "kept": [],
            "errors": [reason],
        },
    )
