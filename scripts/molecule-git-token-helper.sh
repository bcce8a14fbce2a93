#!/bin/bash -p
# molecule-git-token-helper.sh ACTION — git credential helper for github.com
# (or the GitHub Enterprise host GITHUB_SERVER_URL names) that serves GitHub
# App installation tokens fetched from the Molecule
# platform. See gitcredentials(7) and the crate README for the contract.
#
# Actions: get | store | erase (git's), and _fetch_token | _refresh_gh |
# _login_gh | _invalidate_cache (used by the refresh daemon and tests),
# _login_gh_stdin (install's detached gh login), _prime_gh (the first
# daemon's, when install had no token for gh), _check_settings |
# _settings (the one judge of the settings: install, status, the daemon),
# and _repair (tokens in remote URLs and extraheaders: repair, status, the
# daemon).
#
# Never prints a token anywhere but stdout of `get`, never puts one in argv
# (curl reads the bearer from stdin, gh reads the token from stdin), and
# writes the cache atomically (temp file + rename) in a 0700 directory.
#
# `bash -p`: no $BASH_ENV (which could print into git's protocol) and no
# functions imported from the environment (which could shadow builtins).

set -u
umask 077
# Bytes and ASCII for this shell: lengths are bytes, and lower-casing a host
# never folds a non-ASCII letter into an ASCII one (U+0130 into `i`).
LC_ALL=C

# --- hot path: everything `get` needs on a cache hit -----------------------
# Bash parses a script as it runs it, so the cache-hit answer comes first,
# uses builtins only (no process besides bash), and exits before the rest
# of this file is read. It defines one function: each bash function defined
# and called here costs ~50 µs (measured), a sixth of this whole section.

CACHE_DIR="${HOME:-}/.molecule-token-cache"
TOKEN_FILE="$CACHE_DIR/gh_installation_token"
EXPIRY_FILE="$CACHE_DIR/gh_installation_token_expiry"

# Succeeds on a fresh cache: a real directory we own, a token of the one
# shape (1-4096 characters of A-Z a-z 0-9 . _ -; today's GitHub tokens are
# ~520 characters with dots), an expiry in the future, and both files tagged
# with the generation of one write (a pair from two different writes is
# never served). Sets CACHE_HOST (the host the token is for), and
# CACHE_TOKEN and CACHE_EXPIRES_AT (may be empty) for
# any whole pair, fresh or stale: a stale token may still be served while
# GitHub accepts it (serve_through_outage). Globs, not regexes.
CACHE_TOKEN='' CACHE_EXPIRES_AT='' CACHE_HOST='' NOW=0
read_valid_cache() {
    CACHE_TOKEN='' CACHE_EXPIRES_AT='' CACHE_HOST=
    # Both files regular, ours and not links: in a directory someone else
    # could write (its mode is checked before every write, which needs a
    # process), nothing they planted is served.
    [[ -n ${HOME:-} && ! -L $CACHE_DIR && -d $CACHE_DIR && -O $CACHE_DIR &&
        ! -L $TOKEN_FILE && -f $TOKEN_FILE && -O $TOKEN_FILE &&
        ! -L $EXPIRY_FILE && -f $EXPIRY_FILE && -O $EXPIRY_FILE ]] || return 1
    local -a t=() e=()
    # One read(2) per file (`read` seeks back after every line), and
    # `2>/dev/null` first: it must be in place before the `<` can fail.
    { mapfile -t -n 2 t; } 2>/dev/null <"$TOKEN_FILE"
    { mapfile -t -n 4 e; } 2>/dev/null <"$EXPIRY_FILE"
    local token=${t[0]-} token_gen=${t[1]-} cache_expiry=${e[0]-} expires_at=${e[1]-} expiry_gen=${e[2]-}
    # The host the token is for (line 4; a cache from before it was written
    # is github.com's). Off the hot path, one for another host is no cache.
    CACHE_HOST=${e[3]-github.com}
    [[ -n $CACHE_HOST ]] || return 1
    [[ -z ${SERVED_HOST-} || $CACHE_HOST == "$SERVED_HOST" ]] || return 1
    [[ -n $token && ${#token} -le 4096 && $token != *[!A-Za-z0-9._-]* &&
        -n $cache_expiry && ${#cache_expiry} -le 12 && $cache_expiry != *[!0-9]* &&
        -n $token_gen && $token_gen == "$expiry_gen" ]] || return 1
    # As now() below, inlined: $EPOCHSECONDS (bash 5) needs no time zone,
    # printf's %(%s)T (bash 4.2) loads /etc/localtime.
    NOW=${EPOCHSECONDS:-}
    [[ -n $NOW ]] || printf -v NOW '%(%s)T' -1
    [[ -n $expires_at && ${#expires_at} -le 12 && $expires_at != *[!0-9]* ]] || expires_at=''
    CACHE_TOKEN=$token CACHE_EXPIRES_AT=$expires_at
    ((NOW < 10#$cache_expiry))
}

# git's `key=value` attributes (get, erase, store) into ATTR_*, a line at a
# time up to the blank line that ends git's request (never waiting for EOF:
# a caller may keep stdin open), so reading is linear in the request's size.
# Bounded: 8 KiB a line (room for `password=` and a 4096-character token),
# 64 KiB and 10 s in all. Unknown keys (capability[], wwwauth[], path…) are
# ignored; a line too long, one without `=`, or a stall makes
# ATTRS_READ=bad. The host is lower-cased and a `:443` dropped: git passes
# it as the user typed it. A `get` is answered only when the request names
# both `protocol=https` and the served host (github.com, or
# GITHUB_SERVER_URL's): on a cache hit, the host the cached token is for.
ATTR_protocol='' ATTR_host='' ATTR_password='' ATTRS_READ=''
case ${1:-} in
    get | erase | store)
        ATTRS_READ=ok ATTR_line='' ATTR_bytes=0 ATTR_rc=0
        SECONDS=0 # whatever the environment said
        while ((SECONDS < 10)); do
            ATTR_line=''
            IFS= read -r -t "$((10 - SECONDS))" -n 8193 ATTR_line
            ATTR_rc=$?
            ((ATTR_rc > 128)) && ATTRS_READ=bad && break
            # EOF: the request ends here, after a last line without a newline.
            ((ATTR_rc == 0)) || [[ -n $ATTR_line ]] || break
            ATTR_line=${ATTR_line%$'\r'}
            [[ -n $ATTR_line ]] || break
            if ((${#ATTR_line} > 8192, (ATTR_bytes += ${#ATTR_line} + 1) > 65536)) || [[ $ATTR_line != *=* ]]; then
                ATTRS_READ=bad
                break
            fi
            case ${ATTR_line%%=*} in
                protocol) ATTR_protocol=${ATTR_line#*=} ;;
                host) ATTR_host=${ATTR_line#*=} ATTR_host=${ATTR_host,,} ATTR_host=${ATTR_host%:443} ;;
                password) ATTR_password=${ATTR_line#*=} ;;
            esac
            ((ATTR_rc == 0)) || break
        done
        ((SECONDS < 10)) || ATTRS_READ=bad
        # A port is a number: `:08443` is `:8443`, `:0443` is `:443`.
        if [[ $ATTR_host == *:0* ]]; then
            ATTR_line=${ATTR_host##*:}
            [[ -n $ATTR_line && ${#ATTR_line} -le 9 && $ATTR_line != *[!0-9]* ]] &&
                ATTR_host=${ATTR_host%:*}:$((10#$ATTR_line)) ATTR_host=${ATTR_host%:443}
        fi
        ;;
esac

if [[ ${1:-} == get && $ATTRS_READ == ok && $ATTR_protocol == https ]] &&
    read_valid_cache && [[ $ATTR_host == "$CACHE_HOST" ]]; then
    # Same answer as answer() below, inlined for the hot path.
    if [[ -n $CACHE_EXPIRES_AT ]]; then
        printf 'username=x-access-token\npassword=%s\npassword_expiry_utc=%s\n' "$CACHE_TOKEN" "$CACHE_EXPIRES_AT"
    else
        printf 'username=x-access-token\npassword=%s\n' "$CACHE_TOKEN"
    fi
    exit 0
fi

# The cache missed. Whatever writes next needs to know that the cache dir
# is private, which takes a process (`stat`): start it now, so it runs on
# the other CPU while bash parses the rest of this file.
PRIVATE_FD=''
case ${1:-} in
    get | _fetch_token | _refresh_gh)
        [[ -n ${HOME:-} && -d $CACHE_DIR && ! -L $CACHE_DIR ]] &&
            { exec {PRIVATE_FD}< <(exec stat -c '%u %a %F' -- "$CACHE_DIR"); } 2>/dev/null
        ;;
esac

# --- everything else ----------------------------------------------------------

HELPER_ACTION=${1:-}

readonly TAG="[molecule-git-token-helper]"
LOCK_FILE="$CACHE_DIR/.fetch.lock"
# When the last platform fetch failed, since when, why and for which URL:
# while it is younger than the fetch timeout, waiters serve what they can
# instead of asking again.
FAILURE_FILE="$CACHE_DIR/.last_fetch_failure"
STAGING_DIR="$CACHE_DIR/.staging"
readonly MAX_REPLY_BYTES=65536 MAX_TOKEN_CHARS=4096

# Runs a program with every lock descriptor this script holds closed (in a
# subshell that execs it): a child that outlives us, or a long-lived child
# of gh's, must never keep a lock held.
LOCK_FD='' GH_LOCK_FD=''
without_lock() {
    (
        [[ -z $LOCK_FD ]] || exec {LOCK_FD}>&-
        [[ -z $GH_LOCK_FD ]] || exec {GH_LOCK_FD}>&-
        exec "$@"
    )
}

# One timestamped line on stderr. Never called with a token.
say() {
    local TZ=UTC0
    printf '%s %(%Y-%m-%dT%H:%M:%SZ)T %s\n' "$TAG" -1 "$*" >&2
}

# Outside text made safe for one log line: C0 and C1 control characters
# and Unicode bidi controls (which can reorder what a terminal shows)
# removed, cut to 200 characters (or MAX, the second argument, always one
# of ours). Sets REPLY.
printable() {
    local LC_ALL=C text=${1:0:4096}
    # Controls first, then each C1 or bidi sequence becomes `?`: a
    # replacement never joins its neighbours into a new sequence (deleting
    # `\xc2\x9b` from `\xc2\xc2\x9b\x9b` would).
    text=${text//[[:cntrl:]]/}
    text=${text//$'\xc2'[$'\x80'-$'\x9f']/?}
    text=${text//$'\xe2\x80'[$'\x8e'$'\x8f'$'\xaa'-$'\xae']/?}
    text=${text//$'\xe2\x81'[$'\xa6'-$'\xa9']/?}
    text=${text//$'\xd8\x9c'/?}
    REPLY=${text:0:${2:-200}}
}

# --- settings ----------------------------------------------------------------
# A workspace's git also runs where the runtime's environment never was
# (`docker exec` shells, cron, IDE terminals), so install writes the settings
# it saw to SETTINGS_FILE. Each setting comes from the environment when it is
# set there, else from that file, else its default. The file is read here,
# off the hot path, as data: never sourced or evaluated; keys from this list
# only, each value checked below exactly like an environment value.
readonly SETTING_NAMES=(GITHUB_SERVER_URL PLATFORM_URL CONFIGS_DIR WORKSPACE_ID
    TOKEN_CACHE_TTL_SEC TOKEN_EXPIRY_MARGIN_SEC TOKEN_MIN_REMAINING_SEC TOKEN_FETCH_TIMEOUT_SEC
    TOKEN_REFRESH_INTERVAL_SEC TOKEN_REFRESH_JITTER_SEC TOKEN_REFRESH_INITIAL_DELAY_SEC
    TOKEN_REFRESH_RETRY_MIN_SEC TOKEN_REFRESH_RETRY_MAX_SEC TOKEN_REFRESH_RESPAWN_SEC
    TOKEN_HELPER_SCRIPT GH_LOGIN_TIMEOUT_SEC REPO_ROOTS REPAIR_REMOTES
    HTTPS_PROXY HTTP_PROXY NO_PROXY PLATFORM_CA_FILE)
readonly SETTINGS_FILE_MAX_BYTES=16384
SETTINGS_FILE=${HOME:+$HOME/.molecule-runtime/settings}
# Where each setting came from (env, install or default), the variable
# that set it when not its own name (curl's lower-case proxy variables),
# and every problem found, one line each, naming the setting and the fix.
declare -A SETTING_FROM=() SETTING_VAR=()
SETTING_PROBLEMS=() SETTING_NOTES=()

load_settings() {
    local name line key text='' junk=0 ignore=''
    local -A from_file=()
    local LC_ALL=C # sizes in bytes
    if [[ -n $SETTINGS_FILE && (-e $SETTINGS_FILE || -L $SETTINGS_FILE) ]]; then
        # Whoever can write this file decides where the platform bearer
        # goes: only a regular file of ours that nobody else can write is
        # read (its mode takes a process: `stat`, on the slow path only; no
        # lock is open yet).
        local -a st=()
        if [[ ! -L $SETTINGS_FILE && -f $SETTINGS_FILE && -O $SETTINGS_FILE ]]; then
            # shellcheck disable=SC2207  # three words, split on purpose
            st=($(exec stat -c '%u %a %s' -- "$SETTINGS_FILE" 2>/dev/null))
        fi
        if ((${#st[@]} != 3)); then
            ignore="is not a regular file of ours"
        elif [[ ${st[1]} != [0-7]00 ]]; then
            ignore="is writable or readable by group or others (mode 0${st[1]}): whoever can write it decides where the platform bearer goes"
        elif [[ ! -r $SETTINGS_FILE ]]; then
            ignore="is not readable by uid $EUID"
        elif ((${#st[2]} > 9 || 10#${st[2]} > SETTINGS_FILE_MAX_BYTES)); then
            ignore="is larger than $SETTINGS_FILE_MAX_BYTES bytes"
        else
            { IFS= read -r -d '' -N "$((SETTINGS_FILE_MAX_BYTES + 1))" text; } 2>/dev/null <"$SETTINGS_FILE"
            # bash drops NUL bytes as it reads: a shorter text held one.
            ((${#text} == 10#${st[2]})) || ignore="holds a NUL byte" text=''
        fi
        [[ -z $ignore ]] ||
            SETTING_PROBLEMS+=("settings: $SETTINGS_FILE $ignore, so it is ignored; fix: run \`molecule-credential-helper install\` again (it writes the file 0600)")
    fi
    local -a lines=()
    # Split at newlines by word splitting (linear; globbing off).
    local IFS=$'\n' -
    set -f
    # shellcheck disable=SC2206  # splitting is the point
    lines=($text)
    IFS=$' \t\n'
    for line in "${lines[@]}"; do
        [[ $line == '#'* ]] && continue
        key=${line%%=*}
        if [[ $line != *=* || -z $key || $key == *[!A-Z_]* || " ${SETTING_NAMES[*]} " != *" $key "* ]]; then
            # A few named, then a count: a file of junk is not a flood.
            if ((++junk <= 3)); then
                printable "${line:0:60}"
                SETTING_PROBLEMS+=("settings: line \"$REPLY\" of $SETTINGS_FILE is not KEY=value with a known key; ignored; fix: run \`molecule-credential-helper install\` again")
            fi
            continue
        fi
        from_file[$key]=${line#*=}
    done
    ((junk <= 3)) || SETTING_PROBLEMS+=("settings: $((junk - 3)) more lines of $SETTINGS_FILE like those; ignored")
    # curl's proxy variables come in either case; as curl reads them, the
    # lower-case one first, an empty one passed over (curl takes only
    # lower-case http_proxy; we take HTTP_PROXY too: that httpoxy guard is
    # for CGI, where a request header becomes HTTP_PROXY). Either set, even
    # to nothing, is the environment's value.
    for name in HTTPS_PROXY HTTP_PROXY NO_PROXY; do
        key=${name,,}
        [[ -n ${!key+set} ]] || continue
        if [[ -n ${!key} || -z ${!name:-} ]]; then
            printf -v "$name" '%s' "${!key}"
            SETTING_VAR[$name]=$key
        fi
    done
    # Set in the environment, even to nothing, wins: `WORKSPACE_ID= git …`
    # takes the default (the admin route) whatever install saved.
    for name in "${SETTING_NAMES[@]}"; do
        if [[ -n ${!name+set} ]]; then
            SETTING_FROM[$name]='env'
        elif [[ -n ${from_file[$name]:-} ]]; then
            printf -v "$name" '%s' "${from_file[$name]}"
            SETTING_FROM[$name]=install
        else
            SETTING_FROM[$name]=default
        fi
    done
}

# A setting's value for a message: userinfo redacted, control characters
# removed, cut short. Sets REPLY.
shown() {
    redacted "${!1:-}"
    printable "${REPLY:0:120}"
}

# A URL with everything between `://` and its last `@` replaced by `***`:
# a password may hold an unencoded `/`, `?` or `#`, so no earlier `@` is
# trusted to end it (a path with an `@` then hides the host too). A value
# without a scheme (`user:password@proxy:3128`, the mistake a proxy
# setting is refused for) loses everything before its last `@`. Sets REPLY.
redacted() {
    local url=$1
    if [[ $url =~ ^([A-Za-z][A-Za-z0-9+.-]*://)(.*)@([^@]*)$ ]]; then
        url="${BASH_REMATCH[1]}***@${BASH_REMATCH[3]}"
    elif [[ $url == *@* ]]; then
        url="***@${url##*@}"
    fi
    REPLY=$url
}

# Keeps a numeric setting that is whole seconds (1-9 digits; 0 only where
# ZERO_OK), else records a problem and uses the default. Checked as a glob
# before any arithmetic sees it: bash arithmetic would run `$(…)` in an
# array subscript.
setting() {
    local name=$1 default=$2 zero_ok=${3:-} value=${!1:-}
    if [[ -z $value ]]; then
        printf -v "$name" '%s' "$default"
        return
    fi
    if [[ $value != *[!0-9]* && ${#value} -le 9 ]] && { [[ -n $zero_ok ]] || ((10#$value > 0)); }; then
        printf -v "$name" '%s' "$((10#$value))"
        return
    fi
    shown "$name"
    SETTING_PROBLEMS+=("$name: \"$REPLY\" (from ${SETTING_FROM[$name]:-env}) is not a whole number of seconds (1-9 digits${zero_ok:+, 0 allowed}), so $default is used; fix: set it to whole seconds such as $default, or unset it")
    printf -v "$name" '%s' "$default"
}

load_settings
PLATFORM_URL=${PLATFORM_URL:-http://host.docker.internal:8080}
CONFIGS_DIR=${CONFIGS_DIR:-/configs}
GITHUB_SERVER_URL=${GITHUB_SERVER_URL:-https://github.com}
# The one host served, as git sends it: `host` (lower case) or `host:port`
# for a port other than 443. Empty when GITHUB_SERVER_URL is not
# https://host[:port]: nothing is served then (`_check_settings` says why).
readonly SERVER_URL_RE='^https://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:([0-9]{1,5}))?/?$'
SERVED_HOST=''
if [[ $GITHUB_SERVER_URL =~ $SERVER_URL_RE ]]; then
    SERVED_HOST=${BASH_REMATCH[1],,}
    SERVER_PORT=${BASH_REMATCH[6]}
    if [[ -n $SERVER_PORT ]]; then
        SERVER_PORT=$((10#$SERVER_PORT))
        ((SERVER_PORT >= 1 && SERVER_PORT <= 65535)) || SERVED_HOST=''
        [[ -z $SERVED_HOST || $SERVER_PORT == 443 ]] || SERVED_HOST+=":$SERVER_PORT"
    fi
fi
setting TOKEN_CACHE_TTL_SEC 3000
setting TOKEN_EXPIRY_MARGIN_SEC 300 zero
setting TOKEN_MIN_REMAINING_SEC 60 zero
setting TOKEN_FETCH_TIMEOUT_SEC 10
setting GH_LOGIN_TIMEOUT_SEC 10
# The daemon's own settings are checked only when someone asks about them.
case ${1:-} in
    _check_settings | _settings)
        setting TOKEN_REFRESH_INTERVAL_SEC 2700
        setting TOKEN_REFRESH_JITTER_SEC 120 zero
        setting TOKEN_REFRESH_INITIAL_DELAY_SEC 60 zero
        setting TOKEN_REFRESH_RETRY_MIN_SEC 30
        setting TOKEN_REFRESH_RETRY_MAX_SEC 300
        setting TOKEN_REFRESH_RESPAWN_SEC 30
        ;;
    *)
        # A number out of shape is worth one line wherever it is used.
        for REPLY in "${SETTING_PROBLEMS[@]}"; do say "$REPLY"; done
        [[ -z ${TOKEN_FETCH_CLIENT:-} ]] || say "TOKEN_FETCH_CLIENT is retired (curl is the one HTTP client); unset it"
        ;;
esac

# http(s)://host[:port][/path], userinfo allowed (it never reaches argv).
readonly PLATFORM_URL_RE='^https?://([^/?#@[:space:]]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[^[:space:][:cntrl:]]*)?$'

# Proxies and a private CA, for curl. A proxy URL is
# scheme://[user:password@]host[:port][/] with a scheme curl speaks to a
# proxy (http, https, socks4, socks4a, socks5, socks5h), no path; its
# userinfo, like PLATFORM_URL's, reaches curl only in its config on stdin.
readonly PROXY_URL_RE='^(https?|socks4a?|socks5h?)://([^/?#@[:space:][:cntrl:]]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]{1,5}))?/?$'
# NO_PROXY as curl's `noproxy` takes it: names, .domains, addresses, CIDR
# ranges or `*`, comma-separated.
readonly NO_PROXY_RE='^[]A-Za-z0-9.,:/*_ [-]+$'

# Whether the CA file FILE can be trusted: whoever can change it can add a
# CA and impersonate the platform. It must be root's or ours, writable by
# neither group nor others, in a directory no one else can replace it in
# (not writable by group or others, unless sticky). Else REPLY says why,
# and the fix. (A link's target directory is not checked.)
ca_file_trusted() {
    local file=$1 dir=${1%/*}/ info mode owner dmode downer
    info=$(exec stat -L -c '%a %u' -- "$file" "$dir" 2>/dev/null) || info=''
    read -r mode owner dmode downer <<<"${info//$'\n'/ }"
    if [[ -z $downer || $mode$owner$dmode$downer == *[!0-9]* ]]; then
        REPLY="cannot be examined (stat failed); fix: make it and its directory readable by this user"
    elif [[ $owner != 0 && $owner != "$EUID" ]]; then
        REPLY="belongs to uid $owner, neither root nor this user (uid $EUID); fix: chown root it (its owner could add a CA and impersonate the platform)"
    elif [[ ${mode: -2} == *[2367]* ]]; then
        REPLY="is writable by group or others (mode 0$mode): they could add a CA and impersonate the platform; fix: chmod go-w it"
    elif [[ ${dmode: -2} == *[2367]* && ! (${#dmode} == 4 && ${dmode:0:1} == [1357]) ]] ||
        [[ $downer != 0 && $downer != "$EUID" ]]; then
        REPLY="is in ${dir%/} (mode 0$dmode, uid $downer), where another user could replace it; fix: keep it in a directory of root's or this user's that only its owner can write, such as /etc/molecule"
    else
        return 0
    fi
    return 1
}

# Judges the proxy and CA settings for a call to PLATFORM_URL: one line per
# bad value into TRANSPORT_PROBLEMS (naming the variable as it was set, and
# the fix); curl's config lines into CURL_TRANSPORT (`proxy` for the
# platform's scheme, `noproxy`, and `cacert` for an https platform); the
# setting whose proxy applies into PROXY_IN_USE. Returns 1, the line in
# TRANSPORT_BLOCKER, when a value this call needs is bad: no request is
# sent then (not one around the proxy, nor one without the CA).
TRANSPORT_PROBLEMS=() CURL_TRANSPORT='' PROXY_IN_USE='' TRANSPORT_BLOCKER=''
transport_settings() {
    local name value problem used=HTTP_PROXY https='' needed mode
    [[ $PLATFORM_URL == https://* ]] && used=HTTPS_PROXY https=1
    TRANSPORT_PROBLEMS=() CURL_TRANSPORT='' PROXY_IN_USE='' TRANSPORT_BLOCKER=''
    for name in HTTPS_PROXY HTTP_PROXY NO_PROXY PLATFORM_CA_FILE; do
        value=${!name:-} needed=''
        [[ -n $value ]] || continue
        shown "$name"
        problem="${SETTING_VAR[$name]:-$name}: \"$REPLY\" (from ${SETTING_FROM[$name]:-env})"
        case $name in
            NO_PROXY) needed=$PROXY_IN_USE ;;
            PLATFORM_CA_FILE) needed=$https ;;
            "$used") needed=1 ;;
        esac
        if [[ $name == NO_PROXY ]]; then
            if ((${#value} > 4096)) || [[ ! $value =~ $NO_PROXY_RE ]]; then
                problem+=" is not a list for curl's noproxy (comma-separated host names, .domains, IP addresses, CIDR ranges, or *); fix: write it like localhost,127.0.0.1,.internal.example, or unset it"
            else
                value="noproxy = \"$value\""
            fi
        elif [[ $name == PLATFORM_CA_FILE ]]; then
            if [[ $value != /* || $value == *[[:cntrl:]]* ]]; then
                problem+=" is not an absolute path (git runs the helper from any directory); fix: set it to the absolute path of the platform's CA bundle (PEM)"
            elif [[ ! -e $value ]]; then
                problem+=" is missing; fix: put the platform's CA certificate (PEM) there, or unset it to trust the system's CAs"
            elif [[ ! -f $value ]]; then
                problem+=" is not a regular file; fix: point it at a PEM file of CA certificates"
            elif [[ ! -r $value ]]; then
                problem+=" is not readable by uid $EUID; fix: make it readable by this user (chmod a+r or chown the file)"
            elif [[ ! -s $value ]]; then
                problem+=" is empty; fix: put the platform's CA certificate (PEM) in it"
            elif ! ca_file_trusted "$value"; then
                problem+=" $REPLY"
            else
                value=${value//\\/\\\\}
                value="cacert = \"${value//\"/\\\"}\""
            fi
        elif [[ ! $value =~ $PROXY_URL_RE ]] || { [[ -n ${BASH_REMATCH[5]} ]] && ((10#${BASH_REMATCH[5]} < 1 || 10#${BASH_REMATCH[5]} > 65535)); }; then
            problem+=" is not a proxy URL (scheme http, https, socks4, socks4a, socks5 or socks5h, then ://, an optional user:password and @, the host, an optional port 1-65535; no path); fix: write it like http://proxy.example:3128 (percent-encode @ : / in a password), or unset it"
        else
            [[ -n $needed ]] && PROXY_IN_USE=$name
            value=${value//\\/\\\\}
            value="proxy = \"${value//\"/\\\"}\""
        fi
        if [[ $problem == *"; fix: "* ]]; then
            TRANSPORT_PROBLEMS+=("$problem")
            [[ -z $needed || -n $TRANSPORT_BLOCKER ]] || TRANSPORT_BLOCKER=$problem
        elif [[ -n $needed || $name == NO_PROXY ]]; then
            CURL_TRANSPORT+=$value$'\n'
        fi
    done
    [[ -z $TRANSPORT_BLOCKER ]]
}


# WORKSPACE_ID becomes a path segment: `..` or a `/` would reach another route.
workspace_id_ok() {
    ((${#WORKSPACE_ID} <= 128)) && [[ $WORKSPACE_ID != *[!A-Za-z0-9._-]* && $WORKSPACE_ID != . && $WORKSPACE_ID != .. ]]
}

# The platform bearer: CONFIGS_DIR/.auth_token's first line into BEARER
# (bounded; a FIFO is refused before the open could block), or what is
# wrong into BEARER_PROBLEM, naming the fix (return 1). The one check of it:
# `_check_settings` and every fetch say the same.
BEARER='' BEARER_PROBLEM=''
check_bearer() {
    local file
    BEARER='' BEARER_PROBLEM=''
    shown CONFIGS_DIR
    file="$REPLY/.auth_token"
    if [[ $CONFIGS_DIR != /* ]]; then
        BEARER_PROBLEM="\"$REPLY\" (CONFIGS_DIR from ${SETTING_FROM[CONFIGS_DIR]}) is not an absolute path (git runs the helper from any directory); fix: set it to an absolute path such as /configs"
    elif [[ ! -e $CONFIGS_DIR/.auth_token ]]; then
        BEARER_PROBLEM="the platform bearer $file is missing (CONFIGS_DIR from ${SETTING_FROM[CONFIGS_DIR]}); fix: mount the platform's auth token there, or set CONFIGS_DIR to the directory that holds .auth_token"
    elif [[ ! -f $CONFIGS_DIR/.auth_token ]]; then
        BEARER_PROBLEM="the platform bearer $file is not a regular file; fix: make it a regular file holding the platform's auth token"
    elif [[ ! -r $CONFIGS_DIR/.auth_token ]]; then
        BEARER_PROBLEM="the platform bearer $file is not readable by uid $EUID; fix: make it readable by this user (chown or chmod the file)"
    else
        { IFS= read -r -n 4096 -t 2 BEARER; } 2>/dev/null <"$CONFIGS_DIR/.auth_token"
        BEARER=${BEARER%$'\r'}
        if [[ -z $BEARER ]]; then
            BEARER_PROBLEM="the platform bearer $file is empty; fix: write the platform's auth token into it"
        elif [[ $BEARER == *[[:cntrl:]]* ]]; then
            BEARER='' BEARER_PROBLEM="the platform bearer $file contains a control character; fix: write the token alone on one line"
        fi
    fi
    [[ -z $BEARER_PROBLEM ]]
}

# Sets NOW to the epoch seconds, without starting a process.
now() {
    NOW=${EPOCHSECONDS:-}
    [[ -n $NOW ]] || printf -v NOW '%(%s)T' -1
}

# The one token rule: 1-4096 characters of A-Z a-z 0-9 . _ -, nothing
# else checked (tokens are opaque; GitHub's current ones are
# ghs_<APPID>_<JWT>). A newline, `=` or space could inject credential lines.
is_token() { [[ -n $1 && ${#1} -le $MAX_TOKEN_CHARS && $1 != *[!A-Za-z0-9._-]* ]]; }

# The cache dir can be read only when it is a real directory we own (the
# same test opens read_valid_cache above, which also wants both files ours).
cache_dir_ok() {
    [[ -n ${HOME:-} && ! -L $CACHE_DIR && -d $CACHE_DIR && -O $CACHE_DIR ]]
}

# Whether the cache dir is ours with no group/other bits, so nobody else can
# plant a link or a FIFO where we write. Bash cannot read a mode: `stat`
# (lstat) tells, in one process started as early as possible — right after
# the hot path misses (the same `exec stat` there, inlined because no
# function is defined that early), or here — so it runs alongside the
# parsing, the lock and the fetch. Every
# write needs this; reads need only ownership (cache_dir_ok and files we own).
CACHE_PRIVATE=''
start_private_check() {
    [[ -z $CACHE_PRIVATE && -z $PRIVATE_FD ]] || return 0
    { exec {PRIVATE_FD}< <(
        [[ -z $LOCK_FD ]] || exec {LOCK_FD}>&-
        exec stat -c '%u %a %F' -- "$CACHE_DIR"
    ); } 2>/dev/null
}
cache_dir_private() {
    if [[ -z $CACHE_PRIVATE ]]; then
        local uid='' mode='' kind=''
        CACHE_PRIVATE=no
        start_private_check
        if [[ -n $PRIVATE_FD ]]; then
            IFS=' ' read -r -t 5 -u "$PRIVATE_FD" uid mode kind
            exec {PRIVATE_FD}<&-
            PRIVATE_FD=''
        fi
        [[ $uid == "$EUID" && $mode == [1-7]00 && $kind == directory ]] && CACHE_PRIVATE=yes
    fi
    [[ $CACHE_PRIVATE == yes ]]
}

# A file we may write over or open: absent, or a regular file (not a link)
# that we own.
ours_or_absent() {
    [[ ! -L $1 ]] && { [[ ! -e $1 ]] || [[ -f $1 && -O $1 ]]; }
}

# One credential answer on stdout: the only place a token is printed.
answer() {
    printf 'username=x-access-token\npassword=%s\n' "$1"
    [[ -n ${2:-} ]] && printf 'password_expiry_utc=%s\n' "$2"
    return 0
}

ensure_cache_dir() {
    [[ -n ${HOME:-} ]] || return 1
    if [[ ! -e $CACHE_DIR && ! -L $CACHE_DIR ]]; then
        mkdir -m 700 -- "$CACHE_DIR" 2>/dev/null || [[ -d $CACHE_DIR ]] || return 1
    fi
    cache_dir_ok && start_private_check
}

# Atomically replaces one cache file (temp file in the same dir + rename).
write_cache_file() {
    local tmp="$1.tmp.$$.$RANDOM"
    if printf '%s\n' "$2" >"$tmp" && without_lock mv -f -- "$tmp" "$1"; then
        return 0
    fi
    rm -f -- "$tmp" 2>/dev/null
    return 1
}

# Stores token + expiry, each atomically and tagged with one generation.
# A reader whose two reads straddle a write, or a writer killed between the
# two renames, leaves a pair with different generations: never served.
# Under the fetch lock both files are staged in a private dir and renamed
# by one `mv` (token first); unlocked, each gets its own temp file.
store_cache() {
    local token=$1 cache_expiry=$2 expires_at=$3 gen
    ensure_cache_dir || { say "token cache $CACHE_DIR unusable; not caching"; return 1; }
    if ! cache_dir_private; then
        say "token cache $CACHE_DIR is not a private directory of ours (mode 0700 wanted); not caching"
        return 1
    fi
    printf -v gen '%(%s)T.%s.%s' -1 "$$" "$RANDOM"
    if [[ -n $LOCK_HELD ]] && ensure_staging_dir &&
        ours_or_absent "$STAGING_DIR/${TOKEN_FILE##*/}" && ours_or_absent "$STAGING_DIR/${EXPIRY_FILE##*/}"; then
        if printf '%s\n' "$token" "$gen" >"$STAGING_DIR/${TOKEN_FILE##*/}" &&
            printf '%s\n' "$cache_expiry" "$expires_at" "$gen" "$SERVED_HOST" >"$STAGING_DIR/${EXPIRY_FILE##*/}" &&
            without_lock mv -f -- "$STAGING_DIR/${TOKEN_FILE##*/}" "$STAGING_DIR/${EXPIRY_FILE##*/}" "$CACHE_DIR/"; then
            return 0
        fi
        return 1
    fi
    write_cache_file "$TOKEN_FILE" "$token"$'\n'"$gen" || return 1
    write_cache_file "$EXPIRY_FILE" "$cache_expiry"$'\n'"$expires_at"$'\n'"$gen"$'\n'"$SERVED_HOST"
}

# The staging dir: made by us 0700 inside the private cache dir, so nobody
# else can have put anything in it.
staging_dir_ok() {
    [[ -d $STAGING_DIR && ! -L $STAGING_DIR && -O $STAGING_DIR ]]
}
ensure_staging_dir() {
    staging_dir_ok || { [[ ! -e $STAGING_DIR && ! -L $STAGING_DIR ]] && without_lock mkdir -m 700 -- "$STAGING_DIR" 2>/dev/null; }
}

invalidate_cache() {
    cache_dir_ok || return 0
    rm -f -- "$EXPIRY_FILE" "$TOKEN_FILE"
}

# --- the settings' judge ------------------------------------------------------
# `_check_settings` and `_settings` run at every install and status, so they
# are dispatched here, before bash parses the fetch, the reply reader, gh
# and repair below (as git's own actions are dispatched before the rest).

# The problems that keep git from getting a platform token, one line each,
# naming the setting and the fix; no network. Appended to SETTING_PROBLEMS.
check_settings() {
    shown PLATFORM_URL
    local platform=$REPLY
    transport_settings
    if [[ ! $PLATFORM_URL =~ $PLATFORM_URL_RE ]]; then
        SETTING_PROBLEMS+=("PLATFORM_URL: \"$platform\" (from ${SETTING_FROM[PLATFORM_URL]}) is not http(s)://host[:port][/path]; fix: set it to the platform's base URL, e.g. http://host.docker.internal:8080, then run \`molecule-credential-helper install\` again")
    elif command -v curl >/dev/null; then
        :
    elif [[ -n $PROXY_IN_USE ]]; then
        SETTING_PROBLEMS+=("${SETTING_VAR[$PROXY_IN_USE]:-$PROXY_IN_USE}: the platform is reached through this proxy by curl, and curl is not on PATH; fix: install curl (Debian: apt-get install curl)")
    else
        SETTING_PROBLEMS+=("PLATFORM_URL: fetching from the platform needs curl, and curl is not on PATH; fix: install curl (Debian: apt-get install curl)")
    fi
    SETTING_PROBLEMS+=("${TRANSPORT_PROBLEMS[@]}")
    if [[ -n ${WORKSPACE_ID:-} ]] && ! workspace_id_ok; then
        shown WORKSPACE_ID
        SETTING_PROBLEMS+=("WORKSPACE_ID: \"$REPLY\" (from ${SETTING_FROM[WORKSPACE_ID]}) is not 1-128 characters of A-Z a-z 0-9 . _ - (nor . or ..), so no request is sent; fix: set it to the workspace's id, or unset it for the admin route")
    fi
    if ! check_bearer; then
        SETTING_PROBLEMS+=("CONFIGS_DIR: $BEARER_PROBLEM")
    fi
    shown GITHUB_SERVER_URL
    if [[ -z $SERVED_HOST ]]; then
        SETTING_PROBLEMS+=("GITHUB_SERVER_URL: \"$REPLY\" (from ${SETTING_FROM[GITHUB_SERVER_URL]}) is not https://host[:port] (no path, no user; a host of dot-separated labels of letters, digits and inner dashes; a port 1-65535), so no host is served; fix: set it to your GitHub's URL, e.g. https://github.com or https://ghe.example.com, or unset it")
    fi
    case ${TOKEN_FETCH_CLIENT:-} in
        '') ;;
        auto | curl | bash)
            SETTING_NOTES+=("TOKEN_FETCH_CLIENT: retired: curl is the one HTTP client now, so \"${TOKEN_FETCH_CLIENT}\" changes nothing; fix: unset it")
            ;;
        *)
            shown TOKEN_FETCH_CLIENT
            SETTING_PROBLEMS+=("TOKEN_FETCH_CLIENT: \"$REPLY\" is not a known value (the variable is retired: curl is the one HTTP client); fix: unset it")
            ;;
    esac
    if [[ -n ${TOKEN_HELPER_SCRIPT:-} && ($TOKEN_HELPER_SCRIPT != /* || ! -f $TOKEN_HELPER_SCRIPT) ]]; then
        shown TOKEN_HELPER_SCRIPT
        SETTING_PROBLEMS+=("TOKEN_HELPER_SCRIPT: \"$REPLY\" (from ${SETTING_FROM[TOKEN_HELPER_SCRIPT]}) is not the absolute path of a file, so the daemon cannot refresh; fix: unset it (the extracted helper is the default)")
    fi
}

# REPO_ROOTS (default $HOME:/workspace) into REPO_ROOT_LIST; REPAIR_REMOTES
# 0 or 1 (default 1). A problem goes to SETTING_PROBLEMS; a root that is
# not absolute or holds a control character is left out.
repair_settings() {
    local root problem=''
    REPO_ROOT_LIST=()
    if [[ -z ${REPO_ROOTS:-} ]]; then
        REPO_ROOTS="${HOME:+$HOME:}/workspace"
    elif ((${#REPO_ROOTS} > 16384)); then
        problem="is longer than 16384 characters"
    elif [[ $REPO_ROOTS == *[[:cntrl:]]* ]]; then
        problem="holds a control character"
    fi
    if [[ -z $problem ]]; then
        local IFS=: -
        set -f
        for root in $REPO_ROOTS; do
            if [[ $root == /* ]]; then
                REPO_ROOT_LIST+=("$root")
            else
                problem="has an entry that is not an absolute path"
            fi
        done
        [[ $REPO_ROOTS != *: ]] || problem="has an entry that is not an absolute path"
    fi
    if [[ -n $problem ]]; then
        shown REPO_ROOTS
        SETTING_PROBLEMS+=("REPO_ROOTS: \"$REPLY\" (from ${SETTING_FROM[REPO_ROOTS]:-env}) $problem, so only its absolute entries are searched for tokens in remote URLs; fix: set it to colon-separated absolute directories, e.g. /home/agent:/workspace, or unset it")
    fi
    case ${REPAIR_REMOTES:-} in
        '') REPAIR_REMOTES=1 ;;
        0 | 1) ;;
        *)
            shown REPAIR_REMOTES
            SETTING_PROBLEMS+=("REPAIR_REMOTES: \"$REPLY\" (from ${SETTING_FROM[REPAIR_REMOTES]:-env}) is not 0 or 1, so 1 is used (the daemon repairs remote URLs); fix: set it to 0 or 1, or unset it")
            REPAIR_REMOTES=1
            ;;
    esac
}

# `_check_settings`: the one judge of the settings (install's warnings and
# status's `settings` check ask it). One line per problem on stdout, naming
# the setting and the fix; exit 1 when there is any. No network.
action_check_settings() {
    check_settings
    local note
    for note in "${SETTING_NOTES[@]}"; do printf 'note: %s\n' "$note"; done
    ((${#SETTING_PROBLEMS[@]})) || return 0
    printf '%s\n' "${SETTING_PROBLEMS[@]}"
    return 1
}

# `_settings`: every setting as NAME<TAB>SOURCE<TAB>VALUE, the value in
# effect (a number out of shape shows its default), the userinfo of
# PLATFORM_URL and the proxies redacted, control characters removed.
# Problems go to stderr.
action_settings() {
    local name value
    for REPLY in "${SETTING_PROBLEMS[@]}"; do say "$REPLY"; done
    for name in "${SETTING_NAMES[@]}"; do
        value=${!name:-}
        [[ $name == PLATFORM_URL || $name == HTTP*_PROXY ]] && shown "$name" && value=$REPLY
        # The daemon's default helper is this script.
        if [[ $name == TOKEN_HELPER_SCRIPT && -z $value ]]; then
            value='(the extracted helper)'
            [[ ${BASH_SOURCE[0]:-} == /* ]] && value=${BASH_SOURCE[0]}
        fi
        printf '%s\t%s\t%s\n' "$name" "${SETTING_FROM[$name]}" "${value//[[:cntrl:]]/}"
    done
}

case $HELPER_ACTION in
    _check_settings)
        repair_settings
        action_check_settings
        exit
        ;;
    _settings)
        repair_settings
        action_settings
        exit
        ;;
esac

# --- the platform ----------------------------------------------------------

# Sets REPLY to the epoch of an RFC 3339 time (pure bash: no GNU date needed).
rfc3339_to_epoch() {
    local re='^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|([+-])([0-9]{2}):([0-9]{2}))$'
    [[ $1 =~ $re ]] || return 1
    local y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
    local hh=$((10#${BASH_REMATCH[4]})) mm=$((10#${BASH_REMATCH[5]})) ss=$((10#${BASH_REMATCH[6]}))
    local sign=${BASH_REMATCH[9]} oh=${BASH_REMATCH[10]:-0} om=${BASH_REMATCH[11]:-0}
    ((m >= 1 && m <= 12 && d >= 1 && d <= 31 && hh <= 23 && mm <= 59 && ss <= 60)) || return 1
    # Days from civil (Howard Hinnant's algorithm).
    ((m <= 2)) && ((y -= 1))
    local era=$(((y >= 0 ? y : y - 399) / 400))
    local yoe=$((y - era * 400))
    local doy=$(((153 * ((m + 9) % 12) + 2) / 5 + d - 1))
    local doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
    local epoch=$(((era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss))
    local offset=$(((10#$oh) * 3600 + (10#$om) * 60))
    case $sign in
        +) epoch=$((epoch - offset)) ;;
        -) epoch=$((epoch + offset)) ;;
    esac
    REPLY=$epoch
}

# Why a request failed, from curl's exit codes. Sets REPLY.
fetch_failure() {
    case $1 in
        5) REPLY="cannot resolve the proxy host" ;;
        6) REPLY="cannot resolve the platform host" ;;
        7) REPLY="connection refused" ;;
        28) REPLY="timed out after ${TOKEN_FETCH_TIMEOUT_SEC}s" ;;
        18 | 52 | 56) REPLY="the platform closed the connection without a whole reply" ;;
        1 | 8) REPLY="the platform's reply is not HTTP (curl exit $1)" ;;
        35 | 60 | 51 | 58 | 59 | 77 | 83 | 90 | 91) REPLY="TLS with the platform failed (curl exit $1)" ;;
        63) REPLY="the platform's reply is larger than 64 KiB" ;;
        *) REPLY="curl exit $1" ;;
    esac
}

# Names in FAIL_REASON the proxy a failed call went through: ours, or
# curl's own fallback ALL_PROXY from this process's environment (never
# saved, so named where it acts).
with_proxy_named() {
    if [[ -n $PROXY_IN_USE ]]; then
        shown "$PROXY_IN_USE"
        FAIL_REASON+=" (with ${SETTING_VAR[$PROXY_IN_USE]:-$PROXY_IN_USE}=$REPLY)"
    elif [[ -n ${all_proxy:-${ALL_PROXY:-}} ]]; then
        local name=all_proxy
        [[ -n ${all_proxy:-} ]] || name=ALL_PROXY
        shown "$name"
        FAIL_REASON+=" (with curl's ALL_PROXY=$REPLY from the environment)"
    fi
}

# curl's -w trailer, whole: size, status, the proxy's CONNECT answer.
readonly TRAILER_RE='^[0-9]{1,9} [0-9]{3} [0-9]{3}$'

# The proxy in use answered CODE to METHOD (CONNECT, or an http
# platform's GET): 407 means its credentials (a setting) were refused, a
# permanent failure; any other answer, the proxy's trouble, may pass.
proxy_refused() {
    local var=${SETTING_VAR[$PROXY_IN_USE]:-$PROXY_IN_USE}
    if [[ $1 == 407 ]]; then
        FAIL_REASON="platform fetch failed: the proxy in $var refused its credentials (HTTP 407 to $2): the user:password in $var is wrong or missing"
        FAIL_CLASS=settings
    else
        FAIL_REASON="platform fetch failed: the proxy in $var answered HTTP $1 to $2"
        FAIL_CLASS=transient
    fi
}

# --- the HTTP client: curl ---------------------------------------------------
# curl is the one HTTP client, for http and https alike: every image has
# it, and HTTP framing (lengths, chunks, duplicate headers) is no job for a
# shell. Sets REPLY to the body (at most MAX_REPLY_BYTES), a newline, the
# body's size as curl counted it and the status code, and returns 0 or
# curl's exit code. curl skips interim 1xx
# replies, never follows a redirect, and has one deadline for the whole
# request. Its config comes on stdin (-K -): the URL and the proxy (which
# may carry userinfo) and the bearer never reach argv. Values are in double
# quotes, where curl unescapes \\ and \" (control characters were refused
# before).
# Its output is cut after 64 KiB by a reader in the pipe: --max-filesize
# stops only a reply that announces its length. The fetch lock's descriptor
# is closed for curl: a child must never hold the lock.
http_get() {
    local url=$1 bearer=$2 LC_ALL=C
    url=${url//\\/\\\\} bearer=${bearer//\\/\\\\}
    url=${url//\"/\\\"} bearer=${bearer//\"/\\\"}
    # globoff: `[1-5]` or `{a,b}` in PLATFORM_URL is text, not five
    # requests each carrying the bearer.
    local config="globoff"$'\n'"url = \"$url\""$'\n'"header = \"Authorization: Bearer $bearer\""$'\n'$CURL_TRANSPORT
    # The -w trailer (a newline, up to 5 digits, a space, 3 digits: the
    # status, a space, 3 digits: a proxy's answer to CONNECT, 000 for none)
    # is read with the body: a body of exactly MAX_REPLY_BYTES still fits,
    # and one byte more reaches the limit.
    local limit=$((MAX_REPLY_BYTES + 15)) rc
    # The body comes through a pipe, not a file: a full disk must not stop
    # a fetch (the cache write then fails, and the token is still served).
    {
        REPLY=$(
            set -o pipefail
            [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&-
            curl -q -sS -K - --max-time "$TOKEN_FETCH_TIMEOUT_SEC" --connect-timeout "$TOKEN_FETCH_TIMEOUT_SEC" \
                --max-filesize "$MAX_REPLY_BYTES" --max-redirs 0 --proto =http,https \
                -A "molecule-git-token-helper/${HELPER_ACTION:-}" \
                -H 'Accept: application/json' -w $'\n%{size_download} %{http_code} %{http_connect}' <<<"$config" 2>/dev/null |
                {
                    LC_ALL=C
                    IFS= read -r -d '' -N "$limit" cut
                    printf '%s' "$cut"
                }
        )
    } 2>/dev/null
    rc=$?
    ((${#REPLY} < limit)) || return 63
    return "$rc"
}

# --- the reply -----------------------------------------------------------------

# Reads the platform's reply strictly, in time linear in its size: it must
# be one valid JSON object (RFC 8259), nothing before or after it but
# whitespace, nested at most 64 deep. Sets JSON_token, JSON_expires_at and
# JSON_error to the raw text of those top-level members when they are
# strings (escapes left as they are: a token or a time with one is refused
# by its own shape check later), and JSON_PROBLEM to what is wrong. `token`
# or `expires_at` named twice at the top level is a problem; so is any
# syntax error: an unterminated string, a bad escape, a raw control
# character in a string, a value where a key belongs, trailing data.
#
# How, without a quadratic step: the body is split at every `"` (word
# splitting), the pieces rejoined where a quote was escaped, so strings and
# the text between them alternate. The text between, with each string
# replaced by one `"`, is the skeleton: it is split into structural
# characters and scalars, and one pass of a pushdown machine checks it.
# Bash runs that machine at ~50 us a step, so the steps are bounded first:
# a reply with more than JSON_MAX_MARKS quotes, backslashes, brackets,
# commas and colons is refused unread (the platform's reply has ~10; one
# deletion pass in C counts them). A top-level key written with an escape
# is refused too: `tok\u0065n` would be a second `token` that the
# duplicate rule, which compares raw text, cannot see.
readonly JSON_MAX_MARKS=512
JSON_token='' JSON_expires_at='' JSON_error='' JSON_PROBLEM=''
# The platform's usual reply, `{"token":"…","expires_at":"…"}` in either
# order with any whitespace and no escapes, is a subset of valid JSON that
# one regex recognises: the common case skips the full reader (~0.3 ms).
readonly JSON_WS='[[:blank:]'$'\r\n'']*' JSON_STR='"([^"\\[:cntrl:]]*)"'
readonly JSON_PAIR_RE="^${JSON_WS}\\{${JSON_WS}\"(token|expires_at)\"${JSON_WS}:${JSON_WS}${JSON_STR}${JSON_WS},${JSON_WS}\"(token|expires_at)\"${JSON_WS}:${JSON_WS}${JSON_STR}${JSON_WS}\\}${JSON_WS}\$"
read_reply_json() {
    local - LC_ALL=C IFS='"'
    local -a parts=() strings=() skeleton=() pending=() chunks=()
    JSON_token='' JSON_expires_at='' JSON_error='' JSON_PROBLEM=''
    if [[ $1 =~ $JSON_PAIR_RE && ${BASH_REMATCH[1]} != "${BASH_REMATCH[3]}" ]]; then
        printf -v "JSON_${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
        printf -v "JSON_${BASH_REMATCH[3]}" '%s' "${BASH_REMATCH[4]}"
        return 0
    fi
    local marks=${1//[!\"\\,:\[\]\{\}]/}
    if ((${#marks} > JSON_MAX_MARKS)); then
        JSON_PROBLEM="more than $JSON_MAX_MARKS quotes, backslashes, brackets, commas and colons (a token reply has about 10)"
        return 1
    fi
    set -f
    # The newline ends the text outside any string, so a trailing quote is
    # seen as one.
    # shellcheck disable=SC2206  # splitting is the point
    parts=($1$'\n')
    IFS=$' \t\n'
    local n=${#parts[@]} i piece str rest in_string=''
    for ((i = 0; i < n; i++)); do
        piece=${parts[i]}
        if [[ -z $in_string ]]; then
            skeleton+=("$piece")
            ((i == n - 1)) || { skeleton+=('"') && in_string=1; }
            continue
        fi
        ((i < n - 1)) || { JSON_PROBLEM="an unterminated string" && return 1; }
        # A quote after an odd run of backslashes is part of the string
        # (the run is at most JSON_MAX_MARKS long: the regex stays cheap).
        if [[ ${piece: -1} == \\ && $piece =~ (\\+)$ ]] && ((${#BASH_REMATCH[1]} % 2)); then
            pending+=("$piece" '"')
            continue
        fi
        pending+=("$piece")
        printf -v str '%s' "${pending[@]}"
        pending=() in_string=''
        if [[ $str == *[$'\x01'-$'\x1f']* ]]; then
            JSON_PROBLEM="a control character inside a string" && return 1
        fi
        rest=${str//\\[\"\\\/bfnrt]/}
        rest=${rest//\\u[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]/}
        [[ $rest != *\\* ]] || { JSON_PROBLEM="an invalid escape in a string" && return 1; }
        strings+=("$str")
    done
    local sk
    printf -v sk '%s' "${skeleton[@]}"
    # Each structural character on a line of its own, then one field a line.
    local c
    for c in '{' '}' '[' ']' ':' ','; do
        sk=${sk//"$c"/$'\n'$c$'\n'}
    done
    # Split at JSON's whitespace too, so a run of it is one separator (a
    # step per blank line would be a step per two bytes): `1 2` and `t rue`
    # become two values, which the machine refuses.
    IFS=$' \t\r\n'
    # shellcheck disable=SC2206  # splitting is the point
    chunks=($sk)
    IFS=$' \t\n'
    local stack='' state=value key='' top_key='' si=0 seen=' ' number_re='^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$'
    for c in "${chunks[@]}"; do
        if [[ $state == closed ]]; then
            JSON_PROBLEM="data after the object" && return 1
        fi
        case $state:$c in
            value:'{' | value_or_end:'{')
                ((${#stack} < 64)) || { JSON_PROBLEM="nested deeper than 64" && return 1; }
                stack+=o state=key_or_end
                ;;
            value:'[' | value_or_end:'[')
                [[ -n $stack ]] || { JSON_PROBLEM="not an object" && return 1; }
                ((${#stack} < 64)) || { JSON_PROBLEM="nested deeper than 64" && return 1; }
                stack+=a state=value_or_end
                ;;
            value_or_end:']' | after:']' | key_or_end:'}' | after:'}')
                if [[ $c == ']' && $stack != *a ]] || [[ $c == '}' && $stack != *o ]]; then
                    JSON_PROBLEM="a mismatched \"$c\"" && return 1
                fi
                stack=${stack%?}
                state=after
                [[ -n $stack ]] || state=closed
                ;;
            key_or_end:'"' | key:'"')
                key=${strings[si]} si=$((si + 1)) state=colon
                if [[ $stack == o ]]; then
                    [[ $key != *\\* ]] || { JSON_PROBLEM="a top-level key written with an escape" && return 1; }
                    top_key=$key
                    case $key in
                        token | expires_at)
                            [[ $seen != *" $key "* ]] || { JSON_PROBLEM="\"$key\" named twice" && return 1; }
                            seen+="$key "
                            ;;
                    esac
                else
                    top_key=''
                fi
                ;;
            colon:':') state=value ;;
            after:',') [[ $stack == *o ]] && state=key || state=value ;;
            value:* | value_or_end:*)
                [[ -n $stack ]] || { JSON_PROBLEM="not an object" && return 1; }
                if [[ $c == '"' ]]; then
                    str=${strings[si]} si=$((si + 1))
                    if [[ $stack == o ]]; then
                        case $top_key in
                            token) JSON_token=$str ;;
                            expires_at) JSON_expires_at=$str ;;
                            error) JSON_error=${str:0:8192} ;;
                        esac
                    fi
                elif [[ $c != true && $c != false && $c != null && ! $c =~ $number_re ]]; then
                    printable "${c:0:20}"
                    JSON_PROBLEM="\"$REPLY\" is not a JSON value" && return 1
                fi
                state=after
                ;;
            *)
                printable "${c:0:20}"
                JSON_PROBLEM="unexpected \"$REPLY\"" && return 1
                ;;
        esac
    done
    [[ $state == closed ]] || { JSON_PROBLEM="the object is not closed" && return 1; }
}

# Fetches a token from the platform. On success sets FETCHED_TOKEN,
# FETCHED_EXPIRES_AT (may be empty) and FETCHED_CACHE_EXPIRY; on failure
# sets FAIL_REASON and returns 1.
FETCHED_TOKEN='' FETCHED_EXPIRES_AT='' FETCHED_CACHE_EXPIRY='' FAIL_REASON='' MISCONFIGURED='' FAIL_CLASS='' FAIL_RECORD_CLASS='' FAIL_RECORD_FIX=''
fetch_from_platform() {
    local url resp code body rc
    # A token is cached for the host it serves: with none, none is fetched.
    if [[ -z $SERVED_HOST ]]; then
        shown GITHUB_SERVER_URL
        FAIL_REASON="GITHUB_SERVER_URL \"$REPLY\" is not https://host[:port]: no host is served, no token fetched"
        MISCONFIGURED=1
        return 1
    fi
    # Settings that cannot work send no request; the reason names the
    # setting (as `_check_settings` does), not a client's exit code.
    MISCONFIGURED=1
    if ! check_bearer; then
        FAIL_REASON="cannot authenticate to the platform: $BEARER_PROBLEM"
        return 1
    fi
    if [[ ! $PLATFORM_URL =~ $PLATFORM_URL_RE ]]; then
        shown PLATFORM_URL
        FAIL_REASON="PLATFORM_URL \"$REPLY\" (from ${SETTING_FROM[PLATFORM_URL]}) is not http(s)://host[:port][/path]; no request sent"
        return 1
    fi
    if [[ -n ${WORKSPACE_ID:-} ]]; then
        if ! workspace_id_ok; then
            FAIL_REASON="WORKSPACE_ID (from ${SETTING_FROM[WORKSPACE_ID]}) is not 1-128 characters of A-Z a-z 0-9 . _ - (nor . or ..); no request sent"
            return 1
        fi
        url="${PLATFORM_URL%/}/workspaces/$WORKSPACE_ID/github-installation-token"
    else
        url="${PLATFORM_URL%/}/admin/github-installation-token"
    fi
    if ! transport_settings; then
        FAIL_REASON="$TRANSPORT_BLOCKER; no request sent"
        return 1
    fi
    MISCONFIGURED=''
    local bearer=$BEARER
    if ! command -v curl >/dev/null; then
        FAIL_REASON="curl is not on PATH, and every platform fetch needs it (Debian: apt-get install curl)"
        MISCONFIGURED=1
        return 1
    fi
    http_get "$url" "$bearer"
    rc=$?
    resp=$REPLY
    # The trailer: the body's size, the status, the proxy's CONNECT answer.
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    local size=${code%% *} connect=''
    [[ $rc != 63 && $code =~ $TRAILER_RE ]] && connect=${code##* }
    code=${code#* } && code=${code%% *}
    if ((rc != 0)); then
        fetch_failure "$rc"
        FAIL_REASON="platform fetch failed: $REPLY"
        case $rc in
            6 | 7 | 28 | 18 | 52 | 56 | 5) FAIL_CLASS=transient ;;
            35 | 60 | 51 | 58 | 59 | 77 | 83 | 90 | 91) FAIL_CLASS=tls ;;
        esac
        [[ -n $PROXY_IN_USE && $connect == [1-9]?? && $connect != 2?? ]] && proxy_refused "$connect" CONNECT
        with_proxy_named
        return 1
    fi
    # curl's own count of the body's bytes: bash drops NUL bytes as it
    # reads, and a body that held one is no JSON text.
    if [[ $size != *[!0-9]* && -n $size && ${#size} -le 9 ]] && ((10#$size != ${#body})); then
        FAIL_REASON="platform fetch failed: the reply holds a NUL byte"
        return 1
    fi
    if [[ $code != 200 ]]; then
        case $code in
            401 | 403) FAIL_CLASS=bearer ;;
            404) FAIL_CLASS=not-found ;;
            5?? | 408 | 429) FAIL_CLASS=transient ;;
        esac
        printable "$code"
        FAIL_REASON="platform fetch failed: HTTP $REPLY"
        [[ $code == 3?? ]] && FAIL_REASON+=" (a redirect; not followed)"
        if [[ $code == 407 && -n $PROXY_IN_USE ]]; then
            proxy_refused 407 GET
            with_proxy_named
            return 1
        fi
        # The platform's own words, quoted and labelled as its: an agent
        # reading git's stderr must tell data ("run curl … | sh") from our
        # advice. No quote inside can end the quotation early.
        if read_reply_json "$body" && [[ -n $JSON_error ]]; then
            printable "$JSON_error"
            FAIL_REASON+="; platform said: \"${REPLY//\"/\'}\""
        fi
        # Through a proxy (no tunnel), the answer may be the proxy's own.
        [[ $connect == 2?? ]] || with_proxy_named
        return 1
    fi
    if ! read_reply_json "$body"; then
        FAIL_REASON="platform fetch failed: the reply is not the expected JSON object: $JSON_PROBLEM"
        return 1
    fi
    if [[ -z $JSON_token ]]; then
        FAIL_REASON="platform fetch failed: no token in the response"
        return 1
    fi
    if ! is_token "$JSON_token"; then
        FAIL_REASON="platform fetch failed: the token is not 1-$MAX_TOKEN_CHARS characters of A-Z a-z 0-9 . _ -"
        return 1
    fi
    local expires_at=''
    if [[ -n $JSON_expires_at ]]; then
        if rfc3339_to_epoch "$JSON_expires_at"; then
            expires_at=$REPLY
        else
            printable "$JSON_expires_at"
            say "the platform's expires_at \"$REPLY\" is not an RFC 3339 time; caching the token for TOKEN_CACHE_TTL_SEC (${TOKEN_CACHE_TTL_SEC}s)"
        fi
    fi
    now
    local cache_expiry=$((NOW + TOKEN_CACHE_TTL_SEC))
    if [[ -n $expires_at ]]; then
        local by_expiry=$((expires_at - TOKEN_EXPIRY_MARGIN_SEC))
        if ((by_expiry <= NOW)); then
            # Already stale: served while GitHub accepts it, never cached.
            if ((expires_at - NOW > TOKEN_MIN_REMAINING_SEC)); then
                say "the platform's token expires in $((expires_at - NOW))s (within TOKEN_EXPIRY_MARGIN_SEC); serving it uncached"
                FETCHED_TOKEN=$JSON_token FETCHED_EXPIRES_AT=$expires_at FETCHED_CACHE_EXPIRY=''
                return 0
            fi
            FAIL_REASON="platform token expires within ${TOKEN_MIN_REMAINING_SEC}s; not used"
            return 1
        fi
        ((by_expiry < cache_expiry)) && cache_expiry=$by_expiry
    fi
    FETCHED_TOKEN=$JSON_token FETCHED_EXPIRES_AT=$expires_at FETCHED_CACHE_EXPIRY=$cache_expiry
}

# Fetches under the cache lock so concurrent callers make one request:
# whoever waited re-reads the cache first. With `force`, always fetches.
# Without flock (or a lockable cache dir) it proceeds unlocked.
LOCK_HELD=''
locked_fetch() {
    local force=${1:-}
    if ensure_cache_dir && command -v flock >/dev/null && open_lock_file; then
        {
            if flock -w "$((TOKEN_FETCH_TIMEOUT_SEC + 5))" "$LOCK_FD" 2>/dev/null; then
                LOCK_HELD=1
            else
                say "cache lock busy; fetching unlocked"
            fi
        }
    fi
    if [[ -z $force ]] && read_valid_cache; then
        FETCHED_TOKEN=$CACHE_TOKEN FETCHED_EXPIRES_AT=$CACHE_EXPIRES_AT
        return 0
    fi
    # Single flight through an outage too: whoever waited for the lock while
    # another fetch failed does not ask again within the fetch timeout.
    if [[ -z $force && -n $LOCK_HELD ]] && recent_failure; then
        return 1
    fi
    FAIL_CLASS=reply
    if ! fetch_from_platform; then
        [[ -n $MISCONFIGURED ]] && FAIL_CLASS=settings
        failure_fix
        [[ -n $LOCK_HELD ]] && note_failure
        return 1
    fi
    [[ -n $LOCK_HELD && -e $FAILURE_FILE ]] && : >"$FAILURE_FILE" 2>/dev/null
    [[ -z $FETCHED_CACHE_EXPIRY ]] ||
        store_cache "$FETCHED_TOKEN" "$FETCHED_CACHE_EXPIRY" "$FETCHED_EXPIRES_AT" || say "could not write the token cache"
    return 0
}

# The failure file's lines: when the last fetch failed, why, when the
# current outage began (its first failure), and the URL it concerns (userinfo
# redacted). A failure of another URL (the settings changed) is not ours.
FAIL_SINCE=''
read_failure_file() {
    local -a f=()
    REPLY='' FAIL_AT='' FAIL_WHY='' FAIL_FIRST=''
    ours_or_absent "$FAILURE_FILE" && [[ -f $FAILURE_FILE ]] || return 1
    { mapfile -t -n 6 f; } 2>/dev/null <"$FAILURE_FILE"
    local at=${f[0]-} first=${f[2]-}
    failure_key
    [[ -n $at && ${#at} -le 12 && $at != *[!0-9]* && ${f[3]-} == "$REPLY" ]] || return 1
    [[ -n $first && ${#first} -le 12 && $first != *[!0-9]* ]] || first=$at
    FAIL_AT=$((10#$at)) FAIL_WHY=${f[1]-} FAIL_FIRST=$((10#$first)) FAIL_RECORD_FIX=${f[5]-}
    case ${f[4]-} in
        settings | bearer | not-found | transient | tls | reply) FAIL_RECORD_CLASS=${f[4]} ;;
        *) FAIL_RECORD_CLASS=reply ;;
    esac
}

# Records a failed fetch (no secret) for the waiters and for `status`,
# keeping the time the current outage began; sets FAIL_SINCE to it. Six
# lines: when, why, since when, what request (failure_key), the class and
# its fix (failure_fix), so status names the fix git's stderr names.
note_failure() {
    now
    FAIL_SINCE=$NOW
    ours_or_absent "$FAILURE_FILE" && cache_dir_private || return 0
    read_failure_file && FAIL_SINCE=$FAIL_FIRST
    printable "${FAIL_REASON:-platform fetch failed}" 600
    local why=$REPLY
    failure_key
    printf '%s\n%s\n%s\n%s\n%s\n%s\n' "$NOW" "$why" "$FAIL_SINCE" "$REPLY" "$FAIL_CLASS" "$FAIL_FIX" 2>/dev/null >"$FAILURE_FILE"
}

# A failed fetch's class and what fixes it. Permanent (the same request
# fails the same way until someone acts): settings, bearer (HTTP 401/403),
# not-found (404). Transient (it may come back): no connection, a timeout,
# DNS, 5xx, 408/429. Neither: tls, and reply (any other answer that is no
# token). Sets FAIL_FIX from FAIL_CLASS.
failure_fix() {
    local workspace=''
    [[ -n ${WORKSPACE_ID:-} ]] && workspace_id_ok && workspace=$WORKSPACE_ID
    case $FAIL_CLASS in
        settings) FAIL_FIX="fix the setting named above (\`molecule-credential-helper status\` lists each setting and where it came from)" ;;
        bearer)
            local reply=$REPLY
            printable "$CONFIGS_DIR" 300
            FAIL_FIX="the platform refused the bearer in $REPLY/.auth_token: put this workspace's current platform token there"
            REPLY=$reply
            ;;
        not-found) FAIL_FIX="the platform has no GitHub App configured${workspace:+, or does not know WORKSPACE_ID \"$workspace\"}: configure the GitHub App on the platform${workspace:+, or fix WORKSPACE_ID}" ;;
        transient)
            if [[ -n $PROXY_IN_USE ]]; then
                FAIL_FIX="the platform is unreachable through the proxy in ${SETTING_VAR[$PROXY_IN_USE]:-$PROXY_IN_USE}, or failing, and it may come back: git and the daemon keep retrying; if it lasts, check that proxy (its address and password), PLATFORM_URL and the network"
            else
                FAIL_FIX="the platform is unreachable or failing, and it may come back: git and the daemon keep retrying; if it lasts, check PLATFORM_URL and the network (a platform reached only through a proxy needs HTTPS_PROXY, or HTTP_PROXY for an http one)"
            fi
            ;;
        tls) FAIL_FIX="TLS with the platform failed: if its certificate comes from a private CA, set PLATFORM_CA_FILE to that CA's PEM bundle; otherwise check PLATFORM_URL" ;;
        *) FAIL_FIX="the platform's answer is not a token: check that PLATFORM_URL is the Molecule platform's address" ;;
    esac
}

# Whether the class of the last failure is a permanent one.
permanent_failure() {
    [[ $FAIL_CLASS == settings || $FAIL_CLASS == bearer || $FAIL_CLASS == not-found ]]
}

# What a failure record is about: the request's URL (userinfo redacted),
# workspace and bearer directory, whole, and the proxies and CA it went
# with (redacted): a shell with another proxy is not told this one's
# outage. Sets REPLY.
failure_key() {
    local name key workspace=${WORKSPACE_ID:-}
    redacted "$PLATFORM_URL"
    # One line whatever the values hold: the record's lines stay its own.
    key="${REPLY//[[:cntrl:]]/} ${workspace//[[:cntrl:]]/} ${CONFIGS_DIR//[[:cntrl:]]/}"
    for name in HTTPS_PROXY HTTP_PROXY NO_PROXY PLATFORM_CA_FILE; do
        [[ -n ${!name:-} ]] || continue
        redacted "${!name}"
        key+=" $name=${REPLY//[[:cntrl:]]/}"
    done
    REPLY=$key
}

# Whether a fetch of this URL failed less than TOKEN_FETCH_TIMEOUT_SEC ago;
# sets FAIL_REASON to its reason and FAIL_SINCE to when the outage began.
recent_failure() {
    read_failure_file || return 1
    # A settings failure is each caller's own (its settings may differ:
    # fixed since, or set in its shell): it judges them itself. Nor is a
    # failure older than the bearer or the saved settings (a new bearer
    # written after a 401 is tried at once).
    [[ $FAIL_RECORD_CLASS != settings ]] || return 1
    [[ ${CONFIGS_DIR:-}/.auth_token -nt $FAILURE_FILE || $SETTINGS_FILE -nt $FAILURE_FILE ]] && return 1
    now
    ((NOW - FAIL_AT < TOKEN_FETCH_TIMEOUT_SEC)) || return 1
    printable "$FAIL_WHY" 600
    FAIL_REASON="$REPLY (another fetch's result, $((NOW - FAIL_AT))s ago)"
    FAIL_SINCE=$FAIL_FIRST FAIL_CLASS=$FAIL_RECORD_CLASS
    # The fix the fetch that failed named (it knew its proxy), else anew.
    printable "$FAIL_RECORD_FIX" 1000
    FAIL_FIX=$REPLY
    [[ -n $FAIL_FIX ]] || failure_fix
}

# Opens the lock file as LOCK_FD without following a link: an existing one
# (a regular file of ours) read-only, since flock needs no write access; a
# missing one is created only in a private cache dir. The braces keep
# `2>/dev/null` from becoming permanent for the shell.
open_lock_file() {
    if [[ -e $LOCK_FILE || -L $LOCK_FILE ]]; then
        ours_or_absent "$LOCK_FILE" && { exec {LOCK_FD}<"$LOCK_FILE"; } 2>/dev/null
    else
        cache_dir_private && { exec {LOCK_FD}>>"$LOCK_FILE"; } 2>/dev/null
    fi
}

release_lock() {
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&-
    LOCK_FD='' LOCK_HELD=''
}

# --- actions ---------------------------------------------------------------

action_get() {
    [[ $ATTRS_READ == ok ]] || { say "malformed credential request; declining"; return 0; }
    [[ $ATTR_protocol == https && -n $SERVED_HOST && $ATTR_host == "$SERVED_HOST" ]] || return 0

    if read_valid_cache; then
        answer "$CACHE_TOKEN" "$CACHE_EXPIRES_AT"
        return
    fi
    if locked_fetch; then
        release_lock
        answer "$FETCHED_TOKEN" "$FETCHED_EXPIRES_AT"
        return
    fi
    release_lock
    local why=${FAIL_REASON:-platform fetch failed} var token
    serve_through_outage "$why" && return
    for var in GITHUB_TOKEN GH_TOKEN; do
        token=${!var:-}
        if is_token "$token"; then
            fallback_note "$why" "$var"
            answer "$token"
            return
        fi
    done
    token=''
    # A regular file only (a FIFO would block the open), one bounded line.
    if [[ -f $CONFIGS_DIR/.github-token ]] &&
        { { IFS= read -r -n 4097 -t 2 token; } 2>/dev/null <"$CONFIGS_DIR/.github-token" || [[ -n $token ]]; }; then
        token=${token%$'\r'}
        if is_token "$token"; then
            fallback_note "$why" "$CONFIGS_DIR/.github-token"
            answer "$token"
            return
        fi
    fi
    # One line, whatever failed, for whoever reads git's output (often an
    # agent): what failed, since when, when the last token expired, what to run.
    local TZ=UTC0 since expired
    now
    printf -v since '%(%Y-%m-%dT%H:%M:%SZ)T' "${FAIL_SINCE:-$NOW}"
    if [[ -n $CACHE_EXPIRES_AT ]]; then
        printf -v expired '%(%Y-%m-%dT%H:%M:%SZ)T' "$CACHE_EXPIRES_AT"
        ((CACHE_EXPIRES_AT > NOW)) && expired="the cached token expires $expired (too soon to serve)" || expired="the last token expired $expired"
    else
        expired="no token is cached"
    fi
    printable "$CONFIGS_DIR" 300
    local configs=$REPLY
    shown PLATFORM_URL
    say "no GitHub token: $why (platform $REPLY; failing since $since); $expired; GITHUB_TOKEN/GH_TOKEN unset or invalid; no valid $configs/.github-token; ${FAIL_CLASS:-reply} failure, fix: ${FAIL_FIX:-check PLATFORM_URL}; \`molecule-credential-helper status\` says the same"
    return 1
}

# The platform failed: the cached token is still served while GitHub
# accepts it (now < its expires_at - TOKEN_MIN_REMAINING_SEC), before any
# env or file fallback (in a long-lived workspace the provision token died
# hours ago). One stderr line: the failure, and how long the token has left.
serve_through_outage() {
    read_valid_cache
    [[ -n $CACHE_TOKEN && -n $CACHE_EXPIRES_AT ]] || return 1
    local left=$((CACHE_EXPIRES_AT - NOW))
    ((left > TOKEN_MIN_REMAINING_SEC)) || return 1
    say "$1; serving the cached token, which GitHub accepts for ${left}s more"
    answer "$CACHE_TOKEN" "$CACHE_EXPIRES_AT"
}

# A fallback is normal when the platform is down, but a missing bearer is a
# misconfiguration the user should hear about (one line, never a token).
fallback_note() {
    [[ -n $MISCONFIGURED ]] && say "$1; using $2"
    return 0
}

action_erase() {
    [[ $ATTRS_READ == ok ]] || return 0
    [[ $ATTR_protocol == https && -n $SERVED_HOST && $ATTR_host == "$SERVED_HOST" ]] || return 0
    [[ -n $ATTR_password ]] || return 0
    # Fresh or stale: git erases what GitHub refused, and a stale token may
    # have been served through an outage.
    read_valid_cache
    if [[ -n $CACHE_TOKEN && $ATTR_password == "$CACHE_TOKEN" ]]; then
        invalidate_cache
    fi
    return 0
}

# git's own actions need nothing below: they run now, so bash never parses
# the rest of this file (the daemon's, gh's and the settings' actions) on
# git's path.
case $HELPER_ACTION in
    get) action_get && exit 0 || exit ;;
    erase)
        action_erase
        # git erases after a 401. For the served host the credential it
        # sent may sit in this repository's config (a token in a remote
        # URL, an Authorization extraheader), where no helper can refresh
        # it: only then is the rest of this file parsed, to repair it.
        [[ $ATTRS_READ == ok && $ATTR_protocol == https && -n $SERVED_HOST && $ATTR_host == "$SERVED_HOST" ]] || exit 0
        ;;
    store) exit 0 ;;
esac

action_fetch() {
    if locked_fetch force; then
        release_lock
        fingerprint "$FETCHED_TOKEN"
        say "fetched a fresh token into the cache (hashed_token $REPLY)"
        return 0
    fi
    release_lock
    say "${FAIL_REASON:-platform fetch failed}; ${FAIL_CLASS:-reply} failure, fix: ${FAIL_FIX:-check PLATFORM_URL}"
    permanent_failure && return 5
    return 1
}

# Fetches a fresh token, then logs gh in with it. Exit 0, 1 when the
# platform fetch failed, 5 when it failed for good (settings, the bearer
# refused, 404: the daemon backs off to its longest wait at once), 3 when
# only gh's login failed (the daemon then retries the login alone, with the
# cached token: see _login_gh).
action_refresh_gh() {
    action_fetch || return
    gh_login "$FETCHED_TOKEN" "the fresh token" || return 3
}

# Logs gh in at install when install had no token to give it: with the
# token git would get (a cache hit, else one fetch, single-flight with git),
# so gh works seconds after install, not at the daemon's first refresh.
# One login per home at a time: skipped while another holds the lock.
action_prime_gh() {
    if ! locked_fetch; then
        release_lock
        say "no token for gh yet: ${FAIL_REASON:-platform fetch failed}; the daemon logs gh in at its next refresh"
        return 1
    fi
    release_lock
    GH_LOCK_WAIT=no gh_login "$FETCHED_TOKEN" "the platform's token (install had none to give it)"
    case $? in
        0 | 4) return 0 ;;
        *) return 3 ;;
    esac
}

# Logs gh in with the cached token, while GitHub still accepts it; no
# platform request. Exit 0, or 3 when gh failed (1: nothing to give it).
action_login_gh() {
    read_valid_cache
    if [[ -z $CACHE_TOKEN ]] || { [[ -n $CACHE_EXPIRES_AT ]] && ((CACHE_EXPIRES_AT - NOW <= TOKEN_MIN_REMAINING_SEC)); }; then
        say "no cached token GitHub still accepts; gh login not retried"
        return 1
    fi
    gh_login "$CACHE_TOKEN" "the cached token" || return 3
}

# Logs gh in with the token on stdin: install's login, detached so that
# start-up never waits on gh or api.github.com. One at a time per home: if
# another login holds the lock, this one is skipped (ten installs while gh
# hangs leave one login, which its timeout ends).
action_login_gh_stdin() {
    local token=''
    IFS= read -r -n 4097 -t 5 token
    if ! is_token "$token"; then
        say "no valid token on stdin; gh login skipped"
        return 1
    fi
    GH_LOCK_WAIT=no gh_login "$token" "install's token"
    case $? in
        0) return 0 ;;
        4) return 0 ;; # another login is running
        *) return 3 ;;
    esac
}

# `gh auth login` with TOKEN on stdin (never argv), GH_TOKEN/GITHUB_TOKEN
# removed (gh refuses --with-token while either is set), bounded by
# GH_LOGIN_TIMEOUT_SEC (gh has no timeout; `timeout -k` makes sure), under
# the per-home gh login lock (GH_LOCK_WAIT=no: return 4 when it is taken).
# On failure one line with gh's own reason: control characters and the
# token removed, 200 characters.
gh_login() {
    local token=$1 what=$2 out rc
    if [[ -z $SERVED_HOST ]]; then
        say "GITHUB_SERVER_URL is not https://host[:port]: no host to log gh in to"
        return 1
    fi
    if ! command -v gh >/dev/null; then
        say "gh not on PATH; cache refreshed only"
        return 0
    fi
    if [[ $SERVED_HOST == *:* ]]; then
        # gh's --hostname takes no port: git is served, gh cannot be.
        say "gh cannot log in to $SERVED_HOST (gh's --hostname takes no port); cache refreshed only"
        return 0
    fi
    # The lock file only when it is ours (or absent: made 0600 by our umask).
    local lock_file="${HOME:-}/.molecule-runtime/gh-login.lock"
    if [[ -n ${HOME:-} && -d ${lock_file%/*} ]] && ours_or_absent "$lock_file" && command -v flock >/dev/null &&
        { exec {GH_LOCK_FD}>>"$lock_file"; } 2>/dev/null; then
        if [[ ${GH_LOCK_WAIT:-} == no ]]; then
            flock -n "$GH_LOCK_FD" || { say "another gh login is running; this one skipped"; return 4; }
        else
            flock -w "$((GH_LOGIN_TIMEOUT_SEC + 5))" "$GH_LOCK_FD" || say "gh login lock busy; logging in anyway"
        fi
    fi
    local -a bound=()
    command -v timeout >/dev/null && bound=(timeout -k 2 "$GH_LOGIN_TIMEOUT_SEC")
    out=$(
        # gh goes out through the proxies the settings name, as the
        # runtime's processes did: the daemon's environment holds none.
        for name in HTTPS_PROXY HTTP_PROXY NO_PROXY; do
            [[ -z ${!name:-} ]] || export "${name?}"
        done
        printf '%s\n' "$token" | without_lock env -u GH_TOKEN -u GITHUB_TOKEN "${bound[@]}" \
            gh auth login --hostname "$SERVED_HOST" --with-token 2>&1 >/dev/null
    )
    rc=$?
    [[ -z $GH_LOCK_FD ]] || { exec {GH_LOCK_FD}>&- && GH_LOCK_FD=''; }
    if ((rc == 0)); then
        # Named by its audit-log fingerprint: uninstall logs gh out only
        # when gh's token is one we gave it.
        fingerprint "$token"
        say "gh logged in with $what (hashed_token $REPLY)"
        return 0
    fi
    out=${out:0:8192}
    out=${out//"$token"/[REDACTED]}
    ((rc == 124 || rc == 137)) && out="timed out after ${GH_LOGIN_TIMEOUT_SEC}s${out:+; $out}"
    printable "${out//$'\n'/ }"
    say "gh auth login failed (exit $rc): ${REPLY:-no reason given}"
    return 1
}


# GitHub's audit-log `hashed_token` of TOKEN: base64 of its SHA-256, so an
# operator can search the audit log for what a token did, never seeing it.
# coreutils only (sha256sum, base64; the token on a pipe, never in argv): the
# hex digest is checked, then turned into bytes by printf. Sets REPLY.
fingerprint() {
    local hex esc='' i
    REPLY=unknown
    hex=$(printf '%s' "$1" | sha256sum 2>/dev/null) || return 1
    hex=${hex%% *}
    [[ ${#hex} == 64 && $hex != *[!0-9a-f]* ]] || return 1
    for ((i = 0; i < 64; i += 2)); do esc+="\\x${hex:i:2}"; done
    # shellcheck disable=SC2059  # the format is 32 checked \xHH escapes
    REPLY=$(printf "$esc" | base64 -w 0 2>/dev/null) || REPLY=unknown
}

# --- repair: tokens that bypass this helper --------------------------------
# GitHub's docs tell people to clone with
# https://x-access-token:TOKEN@github.com/o/r.git, and actions/checkout
# leaves `http.https://github.com/.extraheader = AUTHORIZATION: basic …`.
# git never asks a helper for either, so each fails an hour later. `_repair`
# finds git repositories under REPO_ROOTS and removes those credentials
# (for the served host only) through git's own config writer and lock.
# git's `erase` (after a 401) repairs the repository git runs in.
#
# Everything read here (paths, config keys and values) is outside text:
# bounded, checked as globs or regexes before use, never evaluated nor
# used in arithmetic, and stripped of control characters before it is
# printed. No credential is ever printed or put in argv: a finding names
# it by its hashed_token, and git is told which value to replace by a
# regex built from the value's other parts, never the value itself.

readonly REPAIR_MAX_REPOS=2000 REPAIR_MAX_DEPTH=4 REPAIR_MAX_ENTRIES=1000 REPAIR_MAX_VALUE=8192
# The largest config file whose url.<base> section header is rewritten.
readonly REPAIR_MAX_FILE=1048576
# An Authorization header, any case: git's value regex has no flag for it.
readonly REPAIR_AUTH_RE='^[[:space:]]*[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn][[:space:]]*:'
# The config keys that can carry a credential for a host: a remote's URL,
# an extraheader (scoped to a URL, or unscoped: sent to every host), and a
# url.<base> rewrite whose base holds one.
readonly REPAIR_KEYS_RE='^(remote\..+\.(url|pushurl)|http\.(.+\.)?extraheader|url\..+\.(insteadof|pushinsteadof))$'
REPAIR_DRY='' REPAIR_LOG='' REPAIR_FAILED=0
REPO_ROOT_LIST=()

# One finding: STATUS (changed, would-change, skipped, failed), the
# repository, the key and a hashed_token or a reason. A line of four
# tab-separated fields on stdout; with --log (the daemon, and erase) one
# sentence on stderr instead.
repair_note() {
    local status=$1 repo key detail
    printable "$2" 1024
    repo=$REPLY
    printable "$3" 512
    key=${REPLY:--}
    printable "$4" 512
    detail=$REPLY
    [[ $status == failed ]] && ((++REPAIR_FAILED))
    if [[ -z $REPAIR_LOG ]]; then
        printf '%s\t%s\t%s\t%s\n' "$status" "$repo" "$key" "$detail"
        return 0
    fi
    case $status in
        changed) say "repair: removed a credential from $repo's $key (hashed_token $detail): git now asks the credential helper${REPAIR_NEXT:-}" ;;
        would-change) say "repair: would remove a credential from $repo's $key (hashed_token $detail)" ;;
        skipped) say "repair: skipped $repo: $detail" ;;
        failed) say "repair: could not repair $repo's $key: $detail" ;;
    esac
}

# Percent-escapes decoded, as git decodes a URL's parts. Fails (REPLY
# unset) when a `%` starts no escape or one decodes to NUL. Sets REPLY.
url_decode() {
    local text=$1
    [[ $text != *%* ]] && REPLY=$text && return 0
    [[ ${text//%[0-9A-Fa-f][0-9A-Fa-f]/} != *%* && $text != *%00* ]] || return 1
    text=${text//\\/\\\\}
    text=${text//%/\\x}
    printf -v REPLY '%b' "$text"
}

# Whether HOST (a URL's host[:port]) is the served host, by the helper's
# rule: percent-escapes decoded as git does, any case, `:443` the same.
is_served_host() {
    local host=$1
    [[ -n $SERVED_HOST && -n $host && ${#host} -le 512 ]] || return 1
    url_decode "$host" || return 1
    host=${REPLY,,}
    [[ ${host%:443} == "$SERVED_HOST" ]]
}

# Text made a literal of a POSIX extended regex. Sets REPLY.
ere_literal() {
    local text=$1 c
    for c in "\\" . '[' ']' '*' + '?' '{' '}' '(' ')' '^' '$' '|'; do
        text=${text//"$c"/\\$c}
    done
    REPLY=$text
}

# A remote URL with a password for the served host,
# `https://USER:PASSWORD@HOST[:PORT]/…` (the userinfo ends at the last `@`
# before the path, so an unencoded `@` in a password does not hide the
# host). A URL with a user and no password (`https://TOKEN@github.com/…`)
# is none: git asks the helper for the password, and our username wins.
# Sets URL_CLEAN (the URL without userinfo), URL_RE (a regex for the value
# without the password in it) and URL_SECRET (the password, decoded as
# git decodes it).
URL_CLEAN='' URL_RE='' URL_SECRET=''
url_credential() {
    local url=$1 scheme rest authority userinfo host
    URL_CLEAN='' URL_RE='' URL_SECRET=''
    [[ ${#url} -le $REPAIR_MAX_VALUE && $url != *[[:cntrl:]]* ]] || return 1
    scheme=${url:0:5}
    [[ ${scheme,,} == https && ${url:5:3} == :// ]] || return 1
    rest=${url:8}
    authority=${rest%%[/?#]*}
    [[ $authority == *@* ]] || return 1
    userinfo=${authority%@*}
    host=${authority##*@}
    [[ $userinfo == *:* ]] || return 1
    is_served_host "$host" || return 1
    rest=${rest:${#userinfo}+1}
    URL_CLEAN="https://$rest"
    URL_SECRET=${userinfo#*:}
    url_decode "$URL_SECRET" && URL_SECRET=$REPLY
    ere_literal "$scheme"
    URL_RE="^$REPLY://[^/?#]*:[^/?#]*@"
    ere_literal "$rest"
    URL_RE+="$REPLY\$"
}

# An `http.<URL>.extraheader` value that carries Authorization, for a URL
# of the served host, or an unscoped `http.extraheader` one. Sets URL_SECRET to the credential in it: the
# password of a `basic` header (base64 of user:password), the token of
# `bearer`/`token`, else the whole header value.
header_credential() {
    local key=$1 value=$2 url authority cred decoded
    URL_SECRET=''
    [[ ${#value} -le $REPAIR_MAX_VALUE && $value =~ $REPAIR_AUTH_RE ]] || return 1
    # An unscoped http.extraheader goes to every host, the served one too.
    if [[ $key != http.extraheader ]]; then
        url=${key#http.}
        url=${url%.extraheader}
        [[ ${url:0:5} == [Hh][Tt][Tt][Pp][Ss] && ${url:5:3} == :// ]] || return 1
        authority=${url:8}
        authority=${authority%%[/?#]*}
        is_served_host "${authority##*@}" || return 1
    fi
    cred=${value#*:}
    cred=${cred#"${cred%%[![:space:]]*}"}
    cred=${cred%"${cred##*[![:space:]]}"}
    if [[ $cred =~ ^([A-Za-z]+)[[:space:]]+([^[:space:]]+)$ ]]; then
        cred=${BASH_REMATCH[2]}
        if [[ ${BASH_REMATCH[1],,} == basic && $cred != *[!A-Za-z0-9+/=]* ]]; then
            decoded=$(printf '%s' "$cred" | base64 -d 2>/dev/null) && [[ $decoded == *:* ]] && cred=${decoded#*:}
        fi
    fi
    URL_SECRET=$cred
}

# Repairs one git config file (FILE, of repository REPO): every
# remote.*.url/pushurl with a password for the served host loses its
# userinfo, every Authorization extraheader for it is removed, each
# through `git config --file` (git's lock; the file keeps its mode).
repair_config() {
    local file=$1 repo=$2 key value i n hashed rc
    local -a entries=()
    local -A handled=() values=()
    local -a how=()
    mapfile -d '' -n "$((REPAIR_MAX_ENTRIES + 1))" entries < <(
        without_lock git config --file "$file" --null --get-regexp "$REPAIR_KEYS_RE" 2>/dev/null
    )
    n=${#entries[@]}
    if ((n > REPAIR_MAX_ENTRIES)); then
        n=$REPAIR_MAX_ENTRIES
        repair_note skipped "$repo" - "${file##*/} has more than $REPAIR_MAX_ENTRIES remote URLs, extraheaders and url rewrites; only the first $REPAIR_MAX_ENTRIES were checked"
    fi
    for ((i = 0; i < n; i++)); do
        key=${entries[i]%%$'\n'*}
        [[ ${entries[i]} == *$'\n'* ]] && values[$key]+=$'\n'"${entries[i]#*$'\n'}"$'\n'
    done
    for ((i = 0; i < n; i++)); do
        [[ ${entries[i]} == *$'\n'* ]] || continue
        key=${entries[i]%%$'\n'*} value=${entries[i]#*$'\n'}
        [[ ${#key} -le 1024 && $key != *[[:cntrl:]]* ]] || continue
        case $key in
            *.url | *.pushurl)
                url_credential "$value" || continue
                fingerprint "$URL_SECRET"
                hashed=$REPLY
                # The same key and clean URL twice: git replaced both at once.
                if [[ -n ${handled[$key$'\t'$URL_CLEAN]:-} ]]; then
                    repair_note "${REPAIR_DRY:+would-}change${REPAIR_DRY:-d}" "$repo" "$key" "$hashed"
                    continue
                fi
                handled[$key$'\t'$URL_CLEAN]=1
                # Where the clean URL is already a value of the key, the
                # credential's value goes; else it is replaced in place.
                how=(--replace-all "$key" "$URL_CLEAN" "$URL_RE")
                [[ ${values[$key]} == *$'\n'"$URL_CLEAN"$'\n'* ]] && how=(--unset-all "$key" "$URL_RE")
                ;;
            *.extraheader)
                header_credential "$key" "$value" || continue
                fingerprint "$URL_SECRET"
                hashed=$REPLY
                if [[ -n ${handled[$key]:-} ]]; then
                    repair_note "${REPAIR_DRY:+would-}change${REPAIR_DRY:-d}" "$repo" "$key" "$hashed"
                    continue
                fi
                handled[$key]=1
                how=(--unset-all "$key" "$REPAIR_AUTH_RE")
                ;;
            url.*.insteadof | url.*.pushinsteadof)
                # The credential is in the section's name: the section is
                # renamed to the base without it (both keys at once).
                local base=${key#url.}
                base=${base%.*}
                url_credential "$base" || continue
                fingerprint "$URL_SECRET"
                hashed=$REPLY
                key="url.$URL_CLEAN"
                if [[ -n ${handled[url.$base]:-} ]]; then
                    continue
                fi
                handled[url.$base]=1
                how=()
                ;;
            *) continue ;;
        esac
        if [[ -n $REPAIR_DRY ]]; then
            repair_note would-change "$repo" "$key" "$hashed"
            continue
        fi
        if ((${#how[@]})); then
            without_lock git config --file "$file" "${how[@]}" 2>/dev/null
        else
            rename_url_section "$file" "$base" "$URL_CLEAN"
        fi
        rc=$?
        if ((rc == 0)); then
            repair_note changed "$repo" "$key" "$hashed"
        elif ((${#how[@]})); then
            repair_note failed "$repo" "$key" "git config failed (exit $rc; another git may hold ${file##*/}.lock) for the value with hashed_token $hashed"
        elif ((rc == 2)); then
            repair_note failed "$repo" "$key" "the section with hashed_token $hashed was not renamed: ${file%/*} is writable by others (or not ours), where a file they plant could take the rewrite; rename it by hand"
        else
            repair_note failed "$repo" "$key" "the section with hashed_token $hashed was not renamed (${file##*/}.lock exists, the file is over 1 MiB, or no header line matched: rename it by hand)"
        fi
    done
}

# Renames the section `url.BASE` to `url.CLEAN` in FILE, as git writes a
# config: FILE.lock created exclusively (a git writing now holds it: we
# fail, and the next sweep tries again), the same mode, renamed over FILE.
# git's own `--rename-section` would need the old name, credential and
# all, in argv; so the header lines are rewritten here, every other line
# copied as it is (one read, one write: `mapfile` and `printf`, not a loop
# over the file). A header inside a continued value (after a line ending
# in an odd number of `\`) is the value's text, not a section: kept.
# Only in a directory nobody else can write: there a planted lock (a link,
# a FIFO, a device) could be opened, chmod'ed or renamed over the config.
# Returns 0, 1 (not renamed), or 2 (the directory is shared).
rename_url_section() {
    local file=$1 base=$2 clean=$3 lock=$1.lock re size n prev fd='' i
    local -a st=() lines=() candidates=()
    # shellcheck disable=SC2207  # three words, split on purpose
    st=($(exec stat -c '%s %a %u' -- "$file" "${file%/*}" 2>/dev/null))
    ((${#st[@]} == 6)) || return 1
    size=${st[0]}
    [[ -n $size && $size != *[!0-9]* && ${#size} -le 9 ]] && ((size <= REPAIR_MAX_FILE)) || return 1
    [[ ${st[4]} != *[!0-7]* && ${st[5]} == "$EUID" ]] || return 2
    ((8#${st[4]} & 8#022)) && return 2
    [[ -e $lock || -L $lock ]] && return 1
    # A subsection as git writes it: `\` and `"` escaped, in quotes.
    base=${base//\\/\\\\} clean=${clean//\\/\\\\}
    base=${base//\"/\\\"} clean=${clean//\"/\\\"}
    ere_literal "$base"
    re='^([[:space:]]*)\[[[:space:]]*[Uu][Rr][Ll][[:space:]]+"'"$REPLY"'"[[:space:]]*\](.*)$'
    # The lock is removed however this ends (TERM from the daemon's time
    # limit, HUP from a closed terminal under `git push`): a lock left
    # behind would fail every later git config write.
    trap '[[ -n $fd ]] && rm -f -- "$lock"; exit 143' TERM INT HUP PIPE
    set -C
    { exec {fd}>"$lock"; } 2>/dev/null || { fd='' && trap - TERM INT HUP PIPE && return 1; }
    set +C
    mapfile -t lines <"$file"
    mapfile -t candidates < <(without_lock grep -n -i -E '^[[:space:]]*\[[[:space:]]*url[[:space:]]' -- "$file" 2>/dev/null | cut -d: -f1)
    n=0
    for i in "${candidates[@]}"; do
        [[ -n $i && $i != *[!0-9]* && ${#i} -le 9 ]] || continue
        ((i -= 1))
        if ((i > 0)); then
            prev=${lines[i - 1]%$'\r'}
            prev=${prev##*[!\\]}
            ((${#prev} % 2)) && continue
        fi
        if [[ ${lines[i]} =~ $re ]]; then
            lines[i]="${BASH_REMATCH[1]}[url \"$clean\"]${BASH_REMATCH[2]}"
            ((++n))
        fi
    done
    ((n > 0)) && printf '%s\n' "${lines[@]}" >&"$fd"
    exec {fd}>&-
    if ((n > 0)) && without_lock chmod "${st[1]}" -- "$lock" && without_lock mv -f -- "$lock" "$file"; then
        trap - TERM INT HUP PIPE
        return 0
    fi
    without_lock rm -f -- "$lock"
    trap - TERM INT HUP PIPE
    return 1
}

# Whether FILE is a config file we may read and write: a regular file of
# ours, not a link.
repair_file_ok() {
    [[ ! -L $1 && -f $1 && -O $1 ]]
}

# FILE (of repository LABEL) joins the sweep's configs when it exists and
# is a regular file of ours; otherwise, if it exists, LABEL is skipped.
# Appends to the caller's `configs` and `labels`.
add_repair_config() {
    local cfg=$1 label=$2
    [[ -e $cfg || -L $cfg ]] || return 0
    if repair_file_ok "$cfg"; then
        configs+=("$cfg") labels+=("$label")
    else
        repair_note skipped "$label" - "${cfg##*/} is not a regular file of ours"
    fi
}

# The user's global git config files: ~/.gitconfig and
# $XDG_CONFIG_HOME/git/config (default ~/.config/git/config). Sets
# GLOBAL_CONFIGS.
GLOBAL_CONFIGS=()
global_configs() {
    local xdg=${XDG_CONFIG_HOME:-}
    GLOBAL_CONFIGS=()
    [[ ${HOME:-} == /* && ${#HOME} -le 4096 && $HOME != *[[:cntrl:]]* ]] || return 0
    GLOBAL_CONFIGS+=("${HOME%/}/.gitconfig")
    [[ $xdg == /* && ${#xdg} -le 4096 && $xdg != *[[:cntrl:]]* ]] || xdg=${HOME%/}/.config
    GLOBAL_CONFIGS+=("${xdg%/}/git/config")
}

# The uid that owns PATH, for a skipped repository's reason. Sets REPLY.
owner_of() {
    REPLY=$(exec stat -c %u -- "$1" 2>/dev/null) || REPLY='?'
    [[ $REPLY != *[!0-9]* ]] || REPLY='?'
}

# `_repair [--dry-run] [--log] [DIR…]`: the sweep of DIRs (default: the
# REPO_ROOTS). Exit 1 when a repair failed, 2 for bad arguments.
action_repair() {
    local arg root gitdir repo cfg count=0
    local -a roots=() configs=() labels=() candidates=()
    local -A seen=() label_of=()
    shift
    for arg in "$@"; do
        case $arg in
            --dry-run) REPAIR_DRY=1 ;;
            --log) REPAIR_LOG=1 ;;
            -*)
                printable "$arg"
                say "_repair: unknown option \"$REPLY\" (usage: _repair [--dry-run] [--log] [DIR…])"
                return 2
                ;;
            *)
                if [[ $arg != /* || $arg == *[[:cntrl:]]* || ${#arg} -gt 4096 ]]; then
                    printable "$arg"
                    say "_repair: \"$REPLY\" is not an absolute path"
                    return 2
                fi
                roots+=("$arg")
                ;;
        esac
    done
    if [[ -z $SERVED_HOST ]]; then
        say "_repair: GITHUB_SERVER_URL is not https://host[:port]: no host served, nothing repaired"
        return 1
    fi
    if ! command -v git >/dev/null; then
        say "_repair: git is not on PATH; nothing repaired"
        return 1
    fi
    if ((${#roots[@]} == 0)); then
        roots=("${REPO_ROOT_LIST[@]}")
        # The user's global config reaches every repository: an unscoped
        # extraheader or a url rewrite there bypasses the helper everywhere.
        global_configs
        for cfg in "${GLOBAL_CONFIGS[@]}"; do add_repair_config "$cfg" "$cfg"; done
    fi
    for root in "${roots[@]}"; do
        # A missing root is skipped; the root itself may be a link (the
        # trailing `/` follows it), nothing below it is (find -P).
        [[ -d $root ]] || continue
        while IFS= read -r -d '' gitdir; do
            [[ ${#gitdir} -le 4096 ]] || continue
            [[ -z ${seen[$gitdir]:-} ]] || continue
            seen[$gitdir]=1
            if ((++count > REPAIR_MAX_REPOS)); then
                repair_note skipped "$root" - "more than $REPAIR_MAX_REPOS repositories under the roots; the rest were not checked"
                break 2
            fi
            repo=${gitdir%/.git}
            repo=${repo%/}
            [[ -n $repo ]] || repo=/
            if [[ ! -O $gitdir ]]; then
                owner_of "$gitdir"
                repair_note skipped "$repo" - "owned by uid $REPLY, not $EUID: not ours to change (run repair as that user)"
                continue
            fi
            # The repository's config, and the per-worktree ones
            # (extensions.worktreeConfig) of it and its linked worktrees.
            add_repair_config "$gitdir/config" "$repo"
            add_repair_config "$gitdir/config.worktree" "$repo"
            if [[ -d $gitdir/worktrees && ! -L $gitdir/worktrees ]]; then
                for cfg in "$gitdir"/worktrees/*/config.worktree; do
                    [[ ${#cfg} -le 4096 ]] && add_repair_config "$cfg" "${cfg%/config.worktree}"
                done
            fi
            # Submodules: .git/modules/**/config, each in a git dir (HEAD
            # and objects beside it: a branch named `config` is no config).
            [[ -d $gitdir/modules && ! -L $gitdir/modules ]] || continue
            while IFS= read -r -d '' cfg; do
                [[ ${#cfg} -le 4096 && -f ${cfg%/config}/HEAD && -d ${cfg%/config}/objects ]] || continue
                add_repair_config "$cfg" "${cfg%/config}"
            done < <(without_lock find -P "$gitdir/modules" -maxdepth 12 \
                \( -name objects -o -name refs -o -name logs -o -name hooks -o -name info \) -prune \
                -o -name config -type f -print0 2>/dev/null)
        done < <(without_lock find -P "$root/" -maxdepth "$((REPAIR_MAX_DEPTH + 1))" \
            \( -name node_modules -prune \) -o \( -name .git -prune -type d -print0 \) 2>/dev/null)
    done
    ((${#configs[@]})) || return 0
    # One grep over every config: only a file that could hold a credential
    # for a host (a URL with an `@`, an extraheader, or a continued line
    # that could hide either) is read through git.
    local i
    for ((i = 0; i < ${#configs[@]}; i++)); do label_of[${configs[i]}]=${labels[i]}; done
    mapfile -d '' candidates < <(
        printf '%s\0' "${configs[@]}" |
            without_lock xargs -0 grep -l -Z -s -i -E -e '://.*@' -e 'extraheader' -e '\\$' -- 2>/dev/null
    )
    for cfg in "${candidates[@]}"; do
        [[ -n ${label_of[$cfg]:-} ]] || continue
        repair_config "$cfg" "${label_of[$cfg]}"
    done
    ((REPAIR_FAILED == 0))
}

# git's erase, after a 401 from the served host: the user's global config
# and the repository git runs in (GIT_DIR, or the working directory) are
# repaired, that one only, so the next command asks this helper. One line on stderr per change, for
# whoever reads git's output.
repair_current_repo() {
    local dir repo cfg worktree
    command -v git >/dev/null || return 0
    REPAIR_LOG=1 REPAIR_NEXT=" (the next git command gets a fresh token)"
    # The global config first: a clone runs outside any repository.
    global_configs
    for cfg in "${GLOBAL_CONFIGS[@]}"; do
        repair_file_ok "$cfg" && repair_config "$cfg" "$cfg"
    done
    dir=$(without_lock git rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || return 0
    [[ -n $dir && ${#dir} -le 4096 && $dir == /* && $dir != *[[:cntrl:]]* && -d $dir && ! -L $dir ]] || return 0
    repair_file_ok "$dir/config" || return 0
    repo=${dir%/.git}
    repair_config "$dir/config" "${repo:-/}"
    # The per-worktree configs (extensions.worktreeConfig): the main
    # one, and a linked worktree's own.
    worktree=$(without_lock git rev-parse --path-format=absolute --git-dir 2>/dev/null) || worktree=$dir
    [[ $worktree == /* && ${#worktree} -le 4096 && $worktree != *[[:cntrl:]]* ]] || worktree=$dir
    repair_file_ok "$dir/config.worktree" && repair_config "$dir/config.worktree" "${repo:-/}"
    if [[ $worktree != "$dir" ]] && repair_file_ok "$worktree/config.worktree"; then
        repair_config "$worktree/config.worktree" "$worktree"
    fi
    return 0
}

main() {
    case ${1:-} in
        get) action_get ;;
        store) return 0 ;;
        erase) repair_current_repo ;;
        _repair)
            repair_settings
            action_repair "$@"
            ;;
        _fetch_token) action_fetch ;;
        _refresh_gh) action_refresh_gh ;;
        _login_gh) action_login_gh ;;
        _login_gh_stdin) action_login_gh_stdin ;;
        _prime_gh) action_prime_gh ;;
        _invalidate_cache) invalidate_cache ;;
        *)
            say "usage: ${0##*/} get|store|erase|_fetch_token|_refresh_gh|_login_gh|_login_gh_stdin|_prime_gh|_invalidate_cache|_check_settings|_settings|_repair"
            return 2
            ;;
    esac
}

main "$@"
