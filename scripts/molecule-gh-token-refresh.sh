#!/bin/bash -p
# molecule-gh-token-refresh.sh [--supervise] — keeps the cached GitHub token
# and gh's login fresh by calling the helper's `_refresh_gh` on a schedule.
#
# Without arguments it is the daemon: sleep INITIAL_DELAY + jitter, then
# refresh; after a success sleep INTERVAL + jitter, after a failure back off
# from RETRY_MIN doubling to RETRY_MAX. With --supervise it is the respawn
# supervisor: it runs the daemon and restarts it RESPAWN seconds after it
# exits, and on SIGTERM stops it and removes the PID file.
#
# Every sleep runs in the background and is awaited with `wait`, because
# bash runs a trap only once a foreground child has ended: SIGTERM is
# therefore handled at once, also under load.

set -u
umask 077
export TZ=UTC0

readonly TAG="[molecule-gh-token-refresh]"
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
HELPER=${TOKEN_HELPER_SCRIPT:-$SCRIPT_DIR/molecule-git-token-helper.sh}
RUNTIME_DIR=${MOLECULE_RUNTIME_DIR:-${HOME:-}/.molecule-runtime}
LOG_FILE="$RUNTIME_DIR/refresh-daemon.log"
PID_FILE="$RUNTIME_DIR/refresh-daemon.pid"
SUPERVISOR_LOCK="$RUNTIME_DIR/supervisor.lock"
SUPERVISOR_LOCK_FD=
EXPIRY_FILE="${HOME:-}/.molecule-token-cache/gh_installation_token_expiry"
readonly LOG_MAX_BYTES=1048576
# gh at start: the first daemon's gh login waits 0..PRIME_JITTER seconds.
readonly PRIME_JITTER=5

INTERVAL=${TOKEN_REFRESH_INTERVAL_SEC:-2700}
JITTER=${TOKEN_REFRESH_JITTER_SEC:-120}
INITIAL_DELAY=${TOKEN_REFRESH_INITIAL_DELAY_SEC:-60}
RETRY_MIN=${TOKEN_REFRESH_RETRY_MIN_SEC:-30}
RETRY_MAX=${TOKEN_REFRESH_RETRY_MAX_SEC:-300}
RESPAWN=${TOKEN_REFRESH_RESPAWN_SEC:-30}

# Runs a program with the supervisor's lock descriptor closed (a subshell
# that execs it): only the supervisor itself may hold the lock.
without_lock() {
    (
        [[ -z $SUPERVISOR_LOCK_FD ]] || exec {SUPERVISOR_LOCK_FD}>&-
        exec "$@"
    )
}

# Only a process whose stderr is the log file follows it across rotation;
# run by hand (or by tests) it keeps the stderr it was given.
FOLLOW_LOG=''
[[ -e $LOG_FILE && /dev/fd/2 -ef $LOG_FILE ]] && FOLLOW_LOG=1

# Rotates the log at LOG_MAX_BYTES (keeping one .1) and reopens it.
rotate_log() {
    [[ -n $FOLLOW_LOG ]] || return 0
    local size
    size=$(without_lock wc -c <"$LOG_FILE" 2>/dev/null) || size=0
    if ((size >= LOG_MAX_BYTES)); then
        without_lock mv -f -- "$LOG_FILE" "$LOG_FILE.1" 2>/dev/null
    fi
    if [[ ! /dev/fd/2 -ef $LOG_FILE ]]; then
        # Never through a link planted at the log's name: remove it first.
        [[ -L $LOG_FILE ]] && without_lock rm -f -- "$LOG_FILE"
        [[ ! -e $LOG_FILE || (-f $LOG_FILE && -O $LOG_FILE) ]] || return 0
        exec 2>>"$LOG_FILE"
        exec 1>&2
        [[ -L $LOG_FILE ]] || without_lock chmod 600 -- "$LOG_FILE" 2>/dev/null
    fi
}

log() {
    rotate_log
    printf '%s %(%Y-%m-%dT%H:%M:%SZ)T %s\n' "$TAG" -1 "$*" >&2
}

# Keeps a setting that is whole seconds (1-9 digits; 0 only where ZERO_OK),
# else logs one line naming it and uses the default. Checked as a glob
# before any arithmetic sees it: bash arithmetic would run `$(…)` inside an
# array subscript, and 20 digits overflow into a tight loop. No subshell
# here (load_settings' one fork is harmless: a fork of the daemon has a
# daemon parent, and one of the supervisor happens before it holds its lock,
# so neither is counted as ours).
whole_seconds() {
    local var=$1 env=$2 default=$3 zero_ok=${4:-} value=${!1}
    if [[ -n $value && $value != *[!0-9]* && ${#value} -le 9 ]] && { [[ -n $zero_ok ]] || ((10#$value > 0)); }; then
        printf -v "$var" '%s' "$((10#$value))"
    else
        printf -v value '%q' "${value:0:40}"
        log "$env=$value is not a whole number of seconds (1-9 digits${zero_ok:+, 0 allowed}); using $default"
        printf -v "$var" '%s' "$default"
    fi
}
# The lock, held for the supervisor's whole life, is what makes it the live
# supervisor of this home (install and status check it, never an argv or a
# PID alone): one per home. Taken before the supervisor forks anything that
# lives; only a lock file of ours is used.
take_supervisor_lock() {
    if ! command -v flock >/dev/null; then
        log "flock not on PATH: the supervisor needs it (Debian: apt-get install util-linux); not starting"
        exit 1
    fi
    if [[ -L $SUPERVISOR_LOCK ]] || [[ -e $SUPERVISOR_LOCK && ! (-f $SUPERVISOR_LOCK && -O $SUPERVISOR_LOCK) ]] ||
        ! { exec {SUPERVISOR_LOCK_FD}>>"$SUPERVISOR_LOCK"; } 2>/dev/null; then
        log "cannot open $SUPERVISOR_LOCK as a regular file of ours; not starting"
        exit 1
    fi
    if ! flock -n "$SUPERVISOR_LOCK_FD"; then
        log "another supervisor holds $SUPERVISOR_LOCK; supervisor $$ not starting"
        exit 0
    fi
}
# The settings as the helper, their one judge, takes them: the environment's
# value when set, else the one install saved (docker exec, cron and a
# restarted supervisor see no runtime environment), else the default. Read
# as NAME<TAB>SOURCE<TAB>VALUE lines into these variables, never evaluated;
# the numbers are checked again below before any arithmetic.
load_settings() {
    local name value
    [[ -f $SCRIPT_DIR/molecule-git-token-helper.sh ]] || return 0
    # The helper's lines about settings out of shape go to our log.
    while IFS=$'\t' read -r -n 4200 name _ value; do
        case $name in
            TOKEN_REFRESH_INTERVAL_SEC) INTERVAL=$value ;;
            TOKEN_REFRESH_JITTER_SEC) JITTER=$value ;;
            TOKEN_REFRESH_INITIAL_DELAY_SEC) INITIAL_DELAY=$value ;;
            TOKEN_REFRESH_RETRY_MIN_SEC) RETRY_MIN=$value ;;
            TOKEN_REFRESH_RETRY_MAX_SEC) RETRY_MAX=$value ;;
            TOKEN_REFRESH_RESPAWN_SEC) RESPAWN=$value ;;
            TOKEN_EXPIRY_MARGIN_SEC) MARGIN=$value ;;
            TOKEN_HELPER_SCRIPT) [[ -n $value ]] && HELPER=$value ;;
            REPAIR_REMOTES) REPAIR=$value ;;
        esac
    done < <(bash -p "$SCRIPT_DIR/molecule-git-token-helper.sh" _settings)
}
MARGIN=${TOKEN_EXPIRY_MARGIN_SEC:-300}
# 0: no sweep of REPO_ROOTS for tokens in remote URLs (repair_remotes).
REPAIR=${REPAIR_REMOTES:-1}
load_settings
# After the settings' fork, so that no child of ours ever held the lock.
[[ ${1:-} == --supervise ]] && take_supervisor_lock

whole_seconds INTERVAL TOKEN_REFRESH_INTERVAL_SEC 2700
whole_seconds JITTER TOKEN_REFRESH_JITTER_SEC 120 zero
whole_seconds INITIAL_DELAY TOKEN_REFRESH_INITIAL_DELAY_SEC 60 zero
whole_seconds RETRY_MIN TOKEN_REFRESH_RETRY_MIN_SEC 30
whole_seconds RETRY_MAX TOKEN_REFRESH_RETRY_MAX_SEC 300
whole_seconds RESPAWN TOKEN_REFRESH_RESPAWN_SEC 30
whole_seconds MARGIN TOKEN_EXPIRY_MARGIN_SEC 300 zero
((RETRY_MAX >= RETRY_MIN)) || RETRY_MAX=$RETRY_MIN
# The sweep's time limit (MOLECULE_REPAIR_LIMIT_SEC, internal: the tests shorten it): 2,000
# repositories on a slow disk, or a git waiting on a stuck mount, must not
# keep the daemon from its next refresh.
REPAIR_LIMIT=${MOLECULE_REPAIR_LIMIT_SEC:-120}
whole_seconds REPAIR_LIMIT MOLECULE_REPAIR_LIMIT_SEC 120

# Uniform 0..JITTER (two RANDOMs give 30 bits, enough for any sane jitter).
jitter() {
    REPLY=$(((RANDOM * 32768 + RANDOM) % (JITTER + 1)))
}

CHILD=''
# Runs a command in the background, the supervisor's lock closed for it, and
# waits, so signals are handled at once.
run_waiting() {
    # One fork: the child is this subshell, exec'd into the command (a
    # function here would fork twice, and the daemon's parent would not be
    # its supervisor).
    (
        [[ -z $SUPERVISOR_LOCK_FD ]] || exec {SUPERVISOR_LOCK_FD}>&-
        exec "$@"
    ) &
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=''
    return "$rc"
}

stop_child() {
    if [[ -n $CHILD ]]; then
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
}

# A daemon whose supervisor was killed (kill -9 leaves it orphaned) stops
# at its next wake-up instead of refreshing alongside a new supervisor's.
# The parent is read from /proc, not $PPID (fixed at start-up) nor kill -0
# (which succeeds on an unreaped zombie).
supervisor_alive() {
    [[ -n ${MOLECULE_SUPERVISOR_PID:-} ]] || return 0
    local -a stat
    if { read -r -a stat; } 2>/dev/null </proc/$$/stat; then
        # Field 4 is the parent PID; the command name (field 2) has no spaces here.
        [[ ${stat[3]:-} == "$MOLECULE_SUPERVISOR_PID" ]]
    else
        kill -0 "$MOLECULE_SUPERVISOR_PID" 2>/dev/null
    fi
}

# The token's expires_at from the helper's cache (epoch seconds, or empty):
# line 2 of the expiry file, read with bounds, never evaluated unchecked.
cached_expires_at() {
    local -a e=()
    REPLY=''
    [[ ! -L $EXPIRY_FILE && -f $EXPIRY_FILE ]] || return 1
    { mapfile -t -n 2 e; } 2>/dev/null <"$EXPIRY_FILE"
    local at=${e[1]-}
    [[ -n $at && ${#at} -le 12 && $at != *[!0-9]* ]] || return 1
    REPLY=$((10#$at))
}

# Seconds until the next platform refresh after a successful one, adapted to
# what the platform did, within [RETRY_MIN, INTERVAL], jitter added later:
# - a new token (another expires_at than last time): its half-life. Against
#   a platform that mints on request, an outage starting at the worst
#   moment leaves half a token's life;
# - the same token again: the platform caches it and will not mint before
#   ours goes stale, so ask when the cache goes stale (expires_at - margin),
#   not at halves of halves;
# - no expiry known: INTERVAL.
# Sets REPLY; LAST_EXPIRES_AT remembers this refresh's expiry.
LAST_EXPIRES_AT='' HOW=''
next_refresh_delay() {
    local now=$EPOCHSECONDS delay=$INTERVAL expires_at how="expiry unknown"
    if cached_expires_at; then
        expires_at=$REPLY
        if [[ $expires_at == "$LAST_EXPIRES_AT" ]]; then
            delay=$((expires_at - MARGIN - now)) how="same token: when the cache goes stale"
        else
            delay=$(((expires_at - now) / 2)) how="new token: at its half-life"
        fi
        LAST_EXPIRES_AT=$expires_at
    fi
    ((delay < RETRY_MIN)) && delay=$RETRY_MIN
    ((delay > INTERVAL)) && delay=$INTERVAL
    REPLY=$delay HOW=$how
}

# The helper's sweep of REPO_ROOTS: a token in a remote URL or an
# extraheader (which no helper refreshes) is removed at every wake, each
# change one log line naming its hashed_token (the helper's --log), so a
# push from such a clone fails at most once. REPAIR_REMOTES=0 turns it off.
# The sweep runs under timeout(1), which signals its whole process group
# (git's children too); a rename under way removes its config.lock.
repair_remotes() {
    [[ $REPAIR == 0 ]] && return 0
    if ! command -v timeout >/dev/null; then
        run_waiting bash -p "$HELPER" _repair --log
        return
    fi
    run_waiting timeout -k 5 "$REPAIR_LIMIT" bash -p "$HELPER" _repair --log
    local rc=$?
    if ((rc == 124 || rc == 137)); then
        log "repair: the sweep of REPO_ROOTS took longer than ${REPAIR_LIMIT}s and was stopped; the next wake sweeps again (point REPO_ROOTS at where repositories live, or set REPAIR_REMOTES=0)"
    fi
}

daemon() {
    trap 'log "SIGTERM: daemon exiting"; stop_child; exit 0' TERM INT
    if [[ ! -x $HELPER && ! -f $HELPER ]]; then
        log "helper $HELPER not found"
    fi
    jitter
    local delay=$((INITIAL_DELAY + REPLY)) backoff=$RETRY_MIN gh_backoff=$RETRY_MIN rc
    local next_refresh=$((EPOCHSECONDS + delay)) gh_pending='' gh_retry_at=0 now
    log "daemon $$ started; first refresh in ${delay}s"
    # gh at start: install had no token to give gh (none cached, no
    # provision token) and said so (MOLECULE_PRIME_GH=1). Fetch the one git
    # would get (single-flight with git) and log gh in now, not at the
    # first refresh a minute or more away.
    # A fleet restarted at once spreads these over PRIME_JITTER seconds.
    if [[ ${MOLECULE_PRIME_GH:-} == 1 ]] && { ! cached_expires_at || ((REPLY <= EPOCHSECONDS)); }; then
        run_waiting sleep "$((RANDOM % (PRIME_JITTER + 1)))"
        run_waiting bash -p "$HELPER" _prime_gh
    fi
    run_waiting sleep "$delay"
    while true; do
        supervisor_alive || { log "supervisor ${MOLECULE_SUPERVISOR_PID:-} gone: daemon $$ exiting"; exit 0; }
        now=$EPOCHSECONDS
        if ((now >= next_refresh)); then
            run_waiting bash -p "$HELPER" _refresh_gh
            rc=$?
            if ((rc == 0 || rc == 3)); then
                backoff=$RETRY_MIN
                next_refresh_delay
                delay=$REPLY
                jitter
                delay=$((delay + REPLY))
                next_refresh=$((EPOCHSECONDS + delay))
                if ((rc == 0)); then
                    gh_pending='' gh_backoff=$RETRY_MIN
                    log "refresh ok; next in ${delay}s ($HOW)"
                else
                    # A gh failure, not a platform one: retry only the login.
                    jitter
                    gh_pending=1 gh_retry_at=$((EPOCHSECONDS + gh_backoff + REPLY))
                    log "refresh ok but gh login failed; gh retry in $((gh_retry_at - EPOCHSECONDS))s; next platform refresh in ${delay}s ($HOW)"
                    gh_backoff=$((gh_backoff * 2))
                    ((gh_backoff > RETRY_MAX)) && gh_backoff=$RETRY_MAX
                fi
            elif ((rc == 5)); then
                # A permanent failure (settings, the bearer refused, 404):
                # asking again soon only adds load. The helper's line above
                # names the fix.
                backoff=$RETRY_MAX
                jitter
                delay=$((backoff + REPLY))
                next_refresh=$((EPOCHSECONDS + delay))
                log "refresh failed (exit 5: a permanent failure; the line above names its fix); retry in ${delay}s (the longest backoff, TOKEN_REFRESH_RETRY_MAX_SEC)"
            else
                jitter
                delay=$((backoff + REPLY))
                next_refresh=$((EPOCHSECONDS + delay))
                log "refresh failed (exit $rc); retry in ${delay}s"
                backoff=$((backoff * 2))
                ((backoff > RETRY_MAX)) && backoff=$RETRY_MAX
            fi
            repair_remotes
        elif [[ -n $gh_pending ]] && ((now >= gh_retry_at)); then
            run_waiting bash -p "$HELPER" _login_gh
            rc=$?
            if ((rc == 0)); then
                gh_pending='' gh_backoff=$RETRY_MIN
                log "gh login ok; next platform refresh in $((next_refresh - EPOCHSECONDS))s"
            else
                jitter
                gh_retry_at=$((EPOCHSECONDS + gh_backoff + REPLY))
                log "gh login failed (exit $rc); gh retry in $((gh_retry_at - EPOCHSECONDS))s"
                gh_backoff=$((gh_backoff * 2))
                ((gh_backoff > RETRY_MAX)) && gh_backoff=$RETRY_MAX
            fi
        fi
        delay=$((next_refresh - EPOCHSECONDS))
        [[ -n $gh_pending ]] && ((gh_retry_at - EPOCHSECONDS < delay)) && delay=$((gh_retry_at - EPOCHSECONDS))
        ((delay < 1)) && delay=1
        run_waiting sleep "$delay"
    done
}

supervise() {
    # shellcheck disable=SC2317  # invoked by the trap
    on_term() {
        log "SIGTERM: supervisor $$ stopping"
        stop_child
        local named=''
        # Only a regular file of ours, a few bytes of it: a FIFO planted
        # there must not hang the handler.
        if [[ ! -L $PID_FILE && -f $PID_FILE && -O $PID_FILE ]]; then
            { IFS= read -r -n 16 -t 1 named; } 2>/dev/null <"$PID_FILE"
        fi
        [[ $named == "$$" ]] && rm -f -- "$PID_FILE"
        exit 0
    }
    trap on_term TERM INT
    export MOLECULE_SUPERVISOR_PID=$$
    log "supervisor $$ started"
    while true; do
        run_waiting bash -p "${BASH_SOURCE[0]}"
        log "daemon exited ($?); respawning in ${RESPAWN}s"
        run_waiting sleep "$RESPAWN"
    done
}

# The schedule is kept in epoch seconds without starting a process: bash 5's
# $EPOCHSECONDS. Without it, say so once and stop (a respawn loop would
# only repeat the line).
if [[ -z ${EPOCHSECONDS:-} ]]; then
    log "bash ${BASH_VERSION:-?} has no \$EPOCHSECONDS: the refresh daemon needs bash 5 or newer"
    exit 1
fi

case ${1:-} in
    --supervise) supervise ;;
    '') daemon ;;
    *)
        printf '%s usage: %s [--supervise]\n' "$TAG" "${0##*/}" >&2
        exit 2
        ;;
esac
