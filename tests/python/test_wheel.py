"""The wheel as a Python runtime uses it: installed in a fresh virtual
environment (.ci/python-tests), imported, and called at start-up.

Every test runs in a temp HOME with GIT_CONFIG_NOSYSTEM=1 against the
wheel's own fake platform, and uninstalls (stopping the daemon it started)
whatever happens."""

import os
import shutil
import subprocess
import sys
import time

import pytest

import molecule_credential_helper as mch

SECRET = "pytest-bearer-5e2a"
COMMAND = "molecule-credential-helper"
STEPS = ["scripts", "token-cache", "git-config", "refresh-daemon", "gh-auth"]


def wait_for(cond, limit=10.0):
    """Polls `cond` until it holds or `limit` seconds pass (a bound on the
    wait, never a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def alive(pid):
    """A live, non-zombie process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def platform(tmp_path):
    """The wheel's command serving the fake platform on 127.0.0.1."""
    url_file = tmp_path / "platform-url"
    with open(url_file, "w") as out:
        proc = subprocess.Popen(
            [COMMAND, "fake-platform", "--port", "0", "--secret", SECRET, "--max-seconds", "600"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        assert wait_for(lambda: url_file.read_text().strip() != ""), "no URL printed"
        yield url_file.read_text().splitlines()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def world(tmp_path, platform, monkeypatch):
    """A temp HOME and configs dir, the environment a runtime would have
    (no provision token), and an uninstall at the end whatever happened."""
    home = tmp_path / "home"
    configs = tmp_path / "configs"
    home.mkdir()
    configs.mkdir()
    (configs / ".auth_token").write_text(SECRET + "\n")
    for key in ("GH_TOKEN", "GITHUB_TOKEN", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GH_CONFIG_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "HOME": str(home),
        "CONFIGS_DIR": str(configs),
        "PLATFORM_URL": platform,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "TOKEN_REFRESH_INITIAL_DELAY_SEC": "3600",
        "TOKEN_REFRESH_JITTER_SEC": "0",
    }.items():
        monkeypatch.setenv(key, value)
    pid_file = home / ".molecule-runtime" / "refresh-daemon.pid"
    try:
        yield home
    finally:
        pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
        mch.uninstall(str(home))
        if pid is not None and alive(pid):
            try:
                os.killpg(pid, 9)
            except OSError:
                pass


def fill(home):
    """`git credential fill` for github.com, as git asks; the password."""
    out = subprocess.run(
        ["git", "credential", "fill"],
        input=b"protocol=https\nhost=github.com\npath=o/r.git\n\n",
        capture_output=True,
        cwd=str(home),
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    passwords = [line[len("password="):] for line in lines if line.startswith("password=")]
    assert len(passwords) == 1, lines
    return passwords[0]


def test_the_wheel_is_what_is_tested():
    # The module comes from the virtual environment, not from the source tree.
    assert os.path.realpath(mch.__file__).startswith(os.path.realpath(sys.prefix))
    # The command is on PATH, and it is the wheel's.
    on_path = shutil.which(COMMAND)
    assert on_path is not None
    assert os.path.realpath(on_path) == os.path.realpath(mch.binary_path())
    version = subprocess.run([COMMAND, "--version"], capture_output=True, check=True)
    assert version.stdout.decode().startswith(COMMAND + " ")
    assert "(commit " in version.stdout.decode()
    # python -m runs the same command.
    as_module = subprocess.run(
        [sys.executable, "-m", "molecule_credential_helper", "--version"], capture_output=True, check=True
    )
    assert as_module.stdout == version.stdout


def test_install_then_git_gets_a_platform_token_status_is_healthy_and_uninstall_leaves_nothing(world):
    home = world
    report = mch.install_credential_helper()
    assert isinstance(report, dict)
    assert [s["step"] for s in report["steps"]] == STEPS
    failed = [s for s in report["steps"] if s["outcome"] == "failed"]
    assert failed == [], report
    assert (home / ".molecule-runtime" / "refresh-daemon.pid").exists()

    # No env token and no .github-token: after the empty cache, the
    # platform is the helper's only source.
    token = fill(home)
    cache = (home / ".molecule-token-cache" / "gh_installation_token").read_text()
    # (compared as a bool: a failure message must not print the token)
    same = token == cache.splitlines()[0]
    assert same, "git got a token other than the one the helper fetched"
    assert len(token) > 40

    # A second call changes nothing.
    again = mch.install_credential_helper()
    assert [s["outcome"] for s in again["steps"][:4]] == ["unchanged"] * 4, again

    health = mch.status()
    assert health["healthy"] is True, health
    assert {c["name"] for c in health["checks"]} >= {"scripts", "git-config", "daemon"}
    leaked = token in str(health) or token in str(report)
    assert not leaked, "a report holds the token"

    pid = int((home / ".molecule-runtime" / "refresh-daemon.pid").read_text().strip())
    assert alive(pid)
    done = mch.uninstall()
    assert done["errors"] == [], done
    assert pid in done["stopped"], done
    assert wait_for(lambda: not alive(pid)), "the supervisor outlived uninstall"
    assert sorted(os.listdir(str(home))) == [], "uninstall left files behind"
    assert mch.status()["healthy"] is False


def test_an_explicit_home_is_used_and_the_real_one_untouched(world, tmp_path):
    other = tmp_path / "agent-home"
    other.mkdir()
    try:
        report = mch.install_credential_helper(home=other)
        assert not [s for s in report["steps"] if s["outcome"] == "failed"], report
        assert (other / ".molecule-runtime").is_dir()
        assert not (world / ".molecule-runtime").exists()
        assert mch.status(home=str(other))["healthy"] is True
    finally:
        done = mch.uninstall(home=other)
    assert done["errors"] == [], done
    assert os.listdir(str(other)) == []


def test_without_git_on_path_install_still_reports_and_raises_nothing(world, tmp_path, monkeypatch):
    # Every program on the usual PATH but git.
    tools = tmp_path / "tools"
    tools.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            link = tools / name
            if name != "git" and not link.exists() and not link.is_symlink():
                link.symlink_to(os.path.join(d, name))
    monkeypatch.setenv("PATH", str(tools))
    assert shutil.which("git") is None

    report = mch.install_credential_helper()
    outcomes = {s["step"]: s["outcome"] for s in report["steps"]}
    assert list(outcomes) == STEPS
    assert outcomes["git-config"] == "skipped", report
    assert outcomes["scripts"] in ("changed", "unchanged"), report


def test_a_command_that_cannot_run_is_a_report_not_an_exception(world, monkeypatch):
    monkeypatch.setattr(mch, "binary_path", lambda: str(world / "no-such-binary"))
    report = mch.install_credential_helper()
    assert [s["outcome"] for s in report["steps"]] == ["failed"] * 5
    assert "no-such-binary" in report["steps"][0]["detail"]
    assert mch.status()["healthy"] is False
    assert mch.uninstall()["errors"] != []


def test_the_module_runs_only_its_own_wheels_command_never_one_from_home_or_path(tmp_path):
    # Root's runtime with a user's HOME, loading the module from another
    # interpreter through PYTHONPATH: a binary planted in ~/.local/bin or
    # first on PATH must never be the one it runs.
    home = tmp_path / "home"
    planted_dirs = [home / ".local" / "bin", tmp_path / "path-bin"]
    for d in planted_dirs:
        d.mkdir(parents=True)
        planted = d / COMMAND
        planted.write_text("#!/bin/sh\necho planted\n")
        planted.chmod(0o755)
    site = os.path.dirname(os.path.dirname(os.path.abspath(mch.__file__)))
    system_python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    assert system_python is not None
    env = {
        "HOME": str(home),
        "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % planted_dirs[1],
        "PYTHONPATH": site,
        "PYTHONNOUSERSITE": "",
    }
    for python in (system_python, sys.executable):
        out = subprocess.run(
            [python, "-c", "import molecule_credential_helper as m; print(m.binary_path())"],
            capture_output=True,
            env=env,
            cwd=str(tmp_path),
            check=True,
        )
        found = out.stdout.decode().strip()
        assert found != "None", out.stderr.decode()
        assert os.path.realpath(found) == os.path.realpath(mch.binary_path()), found
        assert not found.startswith(str(tmp_path)), found


def test_user_is_passed_to_the_command_and_a_bad_one_is_a_report(world):
    for call in (mch.status, mch.uninstall, mch.install_credential_helper):
        report = call(user="no-such-user-mch")
        assert isinstance(report, dict)
        text = repr(report)
        assert "no such user" in text, text


def test_install_removes_the_provision_token_from_the_runtimes_environment(world, monkeypatch):
    provision = "ghs_provision" + "A" * 36
    monkeypatch.setenv("GH_TOKEN", provision)
    monkeypatch.setenv("GITHUB_TOKEN", provision)
    report = mch.install_credential_helper()
    assert report["env_tokens_removed"] == ["GH_TOKEN", "GITHUB_TOKEN"], report
    assert "GH_TOKEN" not in os.environ and "GITHUB_TOKEN" not in os.environ
    # A child of the runtime inherits no provision token, and gets the
    # current platform token from token().
    child = subprocess.run(
        [sys.executable, "-c", "import os, molecule_credential_helper as m; "
         "print(os.environ.get('GH_TOKEN', '-'), os.environ.get('GITHUB_TOKEN', '-'), m.token())"],
        capture_output=True,
        check=True,
    )
    gh_token, github_token, current = child.stdout.decode().split()
    assert (gh_token, github_token) == ("-", "-")
    assert current != provision and current.startswith("ghs_"), current
    assert current == fill(world)


def test_keep_env_tokens_keeps_them(world, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "ghs_keep" + "B" * 36)
    report = mch.install_credential_helper(keep_env_tokens=True)
    assert report["env_tokens_removed"] == []
    assert os.environ["GH_TOKEN"] == "ghs_keep" + "B" * 36


def test_token_is_none_when_there_is_none(world, monkeypatch):
    monkeypatch.setenv("PLATFORM_URL", "http://127.0.0.1:9")
    assert mch.token() is None


# gh as far as the next test needs it, with gh's documented precedence:
# `auth login --with-token` stores the token in hosts.yml (and is refused
# while GH_TOKEN or GITHUB_TOKEN is set, as gh refuses it); `auth token`
# prints what gh would authenticate with: GH_TOKEN, else GITHUB_TOKEN,
# else the stored login. The real gh's side of this (a refreshed login
# serves `gh api`) is proved by the end-to-end tests against the
# github.com stand-in.
GH_SHIM = r"""#!/bin/bash
dir=${GH_CONFIG_DIR:-$HOME/.config/gh}
case "${1:-} ${2:-}" in
"auth login")
    [[ -z ${GH_TOKEN:-}${GITHUB_TOKEN:-} ]] || exit 1
    IFS= read -r token || exit 1
    mkdir -p "$dir" && umask 077
    printf 'github.com:\n    oauth_token: %s\n    git_protocol: https\n' "$token" >"$dir/hosts.yml"
    ;;
"auth token")
    token=${GH_TOKEN:-${GITHUB_TOKEN:-}}
    [[ -n $token ]] || token=$(sed -n 's/^ *oauth_token: //p' "$dir/hosts.yml")
    printf '%s\n' "$token"
    ;;
"auth logout") rm -f "$dir/hosts.yml" ;;
*) exit 1 ;;
esac
"""


def test_gh_in_a_child_of_the_runtime_is_served_the_refreshed_login_after_tokens_died(
    world, tmp_path, monkeypatch
):
    # Token lives of 6 s: two lives pass while the child sleeps.
    url_file = tmp_path / "short-platform-url"
    with open(url_file, "w") as out:
        short = subprocess.Popen(
            [COMMAND, "fake-platform", "--port", "0", "--secret", SECRET,
             "--ttl", "6", "--max-seconds", "120"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        assert wait_for(lambda: url_file.read_text().strip() != ""), "no URL printed"
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "gh").write_text(GH_SHIM)
        (bin_dir / "gh").chmod(0o755)
        provision = "ghs_provision" + "C" * 36
        for key, value in {
            "PLATFORM_URL": url_file.read_text().splitlines()[0],
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GH_TOKEN": provision,
            "GITHUB_TOKEN": provision,
            "TOKEN_REFRESH_INITIAL_DELAY_SEC": "1",
            "TOKEN_REFRESH_INTERVAL_SEC": "2",
            "TOKEN_REFRESH_RETRY_MIN_SEC": "1",
            "TOKEN_EXPIRY_MARGIN_SEC": "2",
            "TOKEN_MIN_REMAINING_SEC": "1",
        }.items():
            monkeypatch.setenv(key, value)
        report = mch.install_credential_helper()
        assert report["env_tokens_removed"] == ["GH_TOKEN", "GITHUB_TOKEN"], report
        # The runtime starts a child now; it runs gh two token lives later.
        child = subprocess.run(
            ["bash", "-c", "sleep 14; gh auth token"],
            capture_output=True,
            check=True,
        )
        used = child.stdout.decode().strip()
        assert used and used != provision, used
        # It is a token the daemon fetched and logged gh in with, not the
        # first one (dead by now): the log names each by its hashed_token.
        log = (world / ".molecule-runtime" / "refresh-daemon.log").read_text()
        import base64
        import hashlib
        hashed = base64.b64encode(hashlib.sha256(used.encode()).digest()).decode()
        logins = [line for line in log.splitlines() if "gh logged in with" in line]
        assert len(logins) >= 2, log
        assert f"hashed_token {hashed}" in logins[-1] or f"hashed_token {hashed}" in logins[-2], log
        assert f"hashed_token {hashed}" not in logins[0], log
        assert used not in log
    finally:
        short.terminate()
        short.wait(timeout=10)


def test_problems_are_a_list_of_their_own_in_the_dict(world, monkeypatch):
    report = mch.install_credential_helper()
    assert report["problems"] == [], report
    monkeypatch.setenv("PLATFORM_URL", "ftp://platform.example")
    report = mch.install_credential_helper()
    assert any(p.startswith("settings: PLATFORM_URL") for p in report["problems"]), report
    assert not any(w.startswith("settings: PLATFORM_URL") for w in report["warnings"]), report
    assert all(s["outcome"] != "failed" for s in report["steps"]), report
