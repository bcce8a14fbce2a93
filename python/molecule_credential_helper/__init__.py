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

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

__all__ = ["install_credential_helper", "status", "uninstall", "binary_path"]

_COMMAND = "molecule-credential-helper"

#: The install steps, in the order they run (for a report made here when
#: the command could not run).
STEPS = ("scripts", "token-cache", "git-config", "refresh-daemon", "gh-auth")

# install's own worst case is 30 s for another install's lock plus 10 s per
# hung `git config`; it never waits on the network. Past this, give up.
_TIMEOUT_SEC = 120


def binary_path():
    """The ``molecule-credential-helper`` this wheel installed (the scripts
    directory of the environment the module is installed in), else the one
    on PATH, else None."""
    dirs = []
    for scheme in (None, "%s_user" % os.name):
        try:
            dirs.append(
                sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
            )
        except (KeyError, ValueError):
            pass
    dirs.append(os.path.dirname(sys.executable))
    for d in dirs:
        candidate = os.path.join(d, _COMMAND)
        if d and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(_COMMAND)


def _run(args, home):
    """Runs the command with --json; returns (parsed JSON or None, a reason
    when there is none)."""
    binary = binary_path()
    if binary is None:
        return None, "%s not found (is the wheel installed?)" % _COMMAND
    argv = [binary] + list(args) + ["--json"]
    if home is not None:
        argv += ["--home", os.fspath(home)]
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


def _call(args, home, when_failed):
    try:
        report, reason = _run(args, home)
    except Exception as e:  # never raise into the runtime's start-up
        report, reason = None, "%s %s: %s" % (_COMMAND, args[0], e)
    if isinstance(report, dict):
        return report
    return when_failed(reason or "no report")


def install_credential_helper(home=None):
    """Runs the five install steps for ``home`` (default: $HOME) and returns
    the report: ``{"steps": [{"step", "outcome", "detail"}], "warnings":
    [...]}``, outcome one of changed, unchanged, skipped, failed. Fail-soft
    and idempotent; takes milliseconds; never waits on the network; never
    raises."""
    return _call(
        ["install"],
        home,
        lambda reason: {
            "steps": [{"step": s, "outcome": "failed", "detail": reason} for s in STEPS],
            "warnings": [],
        },
    )


def status(home=None):
    """The read-only health check: ``{"healthy": bool, "checks": [{"name",
    "level", "detail"}]}``. Never raises."""
    return _call(
        ["status"],
        home,
        lambda reason: {
            "healthy": False,
            "checks": [{"name": "status", "level": "fail", "detail": reason}],
        },
    )


def uninstall(home=None):
    """Stops the daemon and removes our git values, scripts and cache:
    ``{"done", "stopped", "removed", "kept", "errors"}``. Never raises."""
    return _call(
        ["uninstall"],
        home,
        lambda reason: {
            "done": [],
            "stopped": [],
            "removed": [],
            "kept": [],
            "errors": [reason],
        },
    )
