# shellcheck shell=bash
# Shared helpers for scripts/run.sh and scripts/test.sh.
# Source this file (it does not run anything by itself):
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     setup_all        # python + venv + Odoo 18 + PostgreSQL, sets ODOO_CMD / ODOO_ARGS
#
# Everything the scripts create lives in the repository, git-ignored:
#   .venv/          virtualenv (--system-site-packages)
#   .local/pgdata   private PostgreSQL cluster (unix socket only, superuser role "odoo")
#   .local/pgrun    its socket directory
#   .local/data     Odoo data dir (filestore, sessions)
#   .local/logs     logs of every test run, template build and pip run
#   .local/odoo.conf  passed to Odoo with -c; put extra Odoo options there if you need any

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LIB_DIR/.." && pwd)"
ADDON_NAME=loyalty_club
# Directory that contains the loyalty_club/ folder (and goes on the addons path).
ADDON_PARENT="${LOYALTY_ADDON_DIR:-$REPO_ROOT}"
LOCAL_DIR="$REPO_ROOT/.local"
# a git worktree may link .local to the main checkout's: use the real path, so that the template
# databases' stamps (which record the data dir) stay those of that checkout
[[ ! -L "$LOCAL_DIR" ]] || LOCAL_DIR="$(readlink -f "$LOCAL_DIR")"
LOG_DIR="$LOCAL_DIR/logs"
LOCK_DIR="$LOCAL_DIR/locks"
DATA_DIR="$LOCAL_DIR/data"
ODOO_CONF="$LOCAL_DIR/odoo.conf"
VENV_DIR="$REPO_ROOT/.venv"
# shellcheck disable=SC2034  # used by run.sh and test.sh
TEST_TEMPLATE_DB="${ADDON_NAME}_test_tpl"
# Places searched for an Odoo 18 source tree when neither ODOO_PATH nor an
# importable "odoo" package gives one.
ODOO_COMMON_PLACES=("$REPO_ROOT/../odoo" "$REPO_ROOT/../odoo18" /opt/odoo18 /opt/odoo)
# When none of them has one, find_odoo clones Odoo's 18.0 branch (shallow) from
# LOYALTY_ODOO_GIT_URL into ODOO_CLONE_DIR, outside the repository, and reuses it from then on
# (delete the folder to clone again). LOYALTY_ODOO_NO_CLONE=1 turns the clone off;
# LOYALTY_ODOO_CLONE_TIMEOUT (seconds) bounds it.
ODOO_CLONE_DIR="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/$ADDON_NAME/odoo-18.0"
ODOO_GIT_URL="${LOYALTY_ODOO_GIT_URL:-https://github.com/odoo/odoo.git}"
ODOO_GIT_BRANCH=18.0

# --------------------------------------------------------------------------
# messages

info() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

repo_hash() { printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12; }

# --------------------------------------------------------------------------
# 1. python

# find_python: sets PYTHON to a python >= 3.10 (python3.11 preferred).
find_python() {
    local cand candidates=(python3.11 python3) tried=()
    [[ -n "${LOYALTY_PYTHON:-}" ]] && candidates=("$LOYALTY_PYTHON")
    for cand in "${candidates[@]}"; do
        if ! command -v "$cand" >/dev/null 2>&1; then
            tried+=("$cand (not found)")
            continue
        fi
        if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
            PYTHON="$("$cand" -c 'import sys; print(sys.executable)')"
            return 0
        fi
        tried+=("$cand ($("$cand" --version 2>&1 | head -n1), too old or not working)")
    done
    die "Python >= 3.10 is required (Odoo 18 supports 3.10-3.12); tried: ${tried[*]}.
       On Debian 12: apt-get install python3 python3-venv python3-dev (or set LOYALTY_PYTHON=/path/to/python3)"
}

# --------------------------------------------------------------------------
# 2. virtualenv

# ensure_venv: .venv with --system-site-packages, then pip install Odoo's and
# our requirements unless .venv/.stamp says they are already installed.
# Calls find_odoo (it needs Odoo's requirements.txt). Sets VENV_PY.
ensure_venv() {
    [[ -n "${PYTHON:-}" ]] || find_python
    VENV_PY="$VENV_DIR/bin/python"
    mkdir -p "$LOCK_DIR" "$LOG_DIR"
    {
        flock 7 2>/dev/null || true
        _venv_create
        [[ -n "${ODOO_DIR:-}" ]] || find_odoo
        _venv_pip_install
    } 7>"$LOCK_DIR/venv.lock"
}

_venv_create() {
    if [[ -e "$VENV_PY" ]] && ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
        warn "$VENV_DIR is broken (its python does not run); recreating it"
        rm -rf "$VENV_DIR"
    fi
    [[ -e "$VENV_PY" ]] && return 0
    info "Creating virtualenv $VENV_DIR (--system-site-packages, $PYTHON)"
    if ! "$PYTHON" -m venv --system-site-packages "$VENV_DIR"; then
        rm -rf "$VENV_DIR"
        die "could not create a virtualenv with $PYTHON.
       On Debian: apt-get install python3-venv"
    fi
}

_venv_pip_install() {
    local req_files=() f
    for f in "$ODOO_DIR/requirements.txt" "$REPO_ROOT/requirements.txt" "$REPO_ROOT/requirements-dev.txt"; do
        [[ -f "$f" ]] && req_files+=("$f")
    done
    ((${#req_files[@]})) || return 0

    local stamp_file="$VENV_DIR/.stamp" stamp
    stamp="$({ cat "${req_files[@]}"; "$VENV_PY" -VV; } | sha256sum | cut -c1-64)"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
        return 0
    fi

    local constraints="$VENV_DIR/pip-constraints.txt" log pip_args=() rc
    printf 'setuptools<70\n' >"$constraints"
    for f in "${req_files[@]}"; do pip_args+=(-r "$f"); done
    log="$LOG_DIR/pip-$(date +%Y%m%d-%H%M%S).log"
    info "Installing Python requirements into $VENV_DIR (${req_files[*]}); log: $log"
    set +e
    PIP_CONSTRAINT="$constraints" "$VENV_PY" -m pip install --progress-bar off "${pip_args[@]}" 2>&1 |
        tee "$log" | grep --line-buffered -vE '^(Requirement already satisfied|Ignoring |WARNING: Location .* is ignored)'
    rc=${PIPESTATUS[0]}
    set -e
    if ((rc != 0)); then
        pip_hints "$log"
        die "pip install failed (exit $rc); full log: $log"
    fi
    printf '%s\n' "$stamp" >"$stamp_file"
}

# pip_hints LOG: tell which Debian packages a failed source build needs.
pip_hints() {
    local log="$1" hints=()
    grep -qiE 'python-ldap|python_ldap|lber\.h|ldap\.h|sasl/sasl\.h' "$log" &&
        hints+=("python-ldap needs: apt-get install libldap2-dev libsasl2-dev build-essential python3-dev")
    grep -qiE 'psycopg2|pg_config' "$log" &&
        hints+=("psycopg2 needs: apt-get install libpq-dev build-essential python3-dev")
    grep -qiE 'libxml/|libxslt|xmlversion\.h' "$log" &&
        hints+=("lxml needs: apt-get install libxml2-dev libxslt1-dev")
    grep -qiE 'jpeglib\.h|zlib\.h|The headers or library files could not be found for (jpeg|zlib)' "$log" &&
        hints+=("Pillow needs: apt-get install libjpeg-dev zlib1g-dev")
    grep -qiE "command '(x86_64-linux-gnu-)?gcc' failed|gcc: not found|No such file or directory: 'gcc'|unable to execute 'gcc'" "$log" &&
        hints+=("a C compiler is missing: apt-get install build-essential python3-dev")
    grep -qE 'Python\.h: No such file' "$log" &&
        hints+=("Python headers are missing: apt-get install python3-dev")
    local h
    for h in "${hints[@]}"; do printf 'HINT: %s\n' "$h" >&2; done
    return 0
}

# --------------------------------------------------------------------------
# 3. Odoo

# odoo_check DIR: 0 if DIR holds an Odoo 18 source (DIR/odoo/release.py with
# version_info 18). Otherwise sets ODOO_CHECK_WHY and returns 1.
odoo_check() {
    local dir="$1" major
    if [[ ! -d "$dir" ]]; then
        ODOO_CHECK_WHY="no such directory"
        return 1
    fi
    if [[ ! -f "$dir/odoo/release.py" ]]; then
        ODOO_CHECK_WHY="no odoo/release.py"
        return 1
    fi
    major="$(sed -nE 's/^version_info *= *\( *([0-9]+).*/\1/p' "$dir/odoo/release.py" | head -n1)"
    if [[ "$major" != 18 ]]; then
        ODOO_CHECK_WHY="Odoo version ${major:-unknown}, need 18"
        return 1
    fi
    return 0
}

_set_odoo_dir() {
    ODOO_DIR="$(cd "$1" && pwd)"
    ODOO_BIN=""
    [[ -f "$ODOO_DIR/odoo-bin" ]] && ODOO_BIN="$ODOO_DIR/odoo-bin"
    local d parts=()
    for d in "$ODOO_DIR/addons" "$ODOO_DIR/odoo/addons" "$ADDON_PARENT"; do
        [[ -d "$d" ]] && parts+=("$d")
    done
    ADDONS_PATH="$(
        IFS=,
        printf '%s' "${parts[*]}"
    )"
    export ODOO_DIR
}

# odoo_source_check DIR: like odoo_check, and DIR must also have odoo-bin.
odoo_source_check() {
    odoo_check "$1" || return 1
    if [[ ! -f "$1/odoo-bin" ]]; then
        ODOO_CHECK_WHY="no odoo-bin"
        return 1
    fi
}

# find_odoo: sets ODOO_DIR, ODOO_BIN (empty = use "python -m odoo") and ADDONS_PATH.
find_odoo() {
    local looked=() dir py
    local hint="Put the Odoo 18.0 Community source somewhere and run: ODOO_PATH=/path/to/odoo ./scripts/test.sh (or ./scripts/run.sh)"

    # a) explicit ODOO_PATH: use it or fail, never silently ignore it
    if [[ -n "${ODOO_PATH:-}" ]]; then
        odoo_source_check "$ODOO_PATH" ||
            die "ODOO_PATH=$ODOO_PATH is not an Odoo 18 source directory ($ODOO_CHECK_WHY);
       it must contain odoo-bin and odoo/release.py with version 18.
       $hint"
        _set_odoo_dir "$ODOO_PATH"
        return 0
    fi
    looked+=("ODOO_PATH (not set)")

    # b) an "odoo" package importable by the (venv) python, e.g. via a .pth file
    if [[ "${LOYALTY_SKIP_IMPORT_PROBE:-0}" != 1 ]]; then
        py="${VENV_PY:-${PYTHON:-python3}}"
        # find_spec locates the package without importing (executing) it
        dir="$(cd / && "$py" -c '
import importlib.util, os
s = importlib.util.find_spec("odoo")
locs = list(s.submodule_search_locations or []) if s else []
print(os.path.dirname(os.path.abspath(locs[0])) if locs else "")
' 2>/dev/null)" || dir=""
        if [[ -z "$dir" ]]; then
            looked+=("python package 'odoo' importable by $py (not importable)")
        elif odoo_check "$dir"; then
            _set_odoo_dir "$dir"
            return 0
        else
            looked+=("python package 'odoo' importable by $py: $dir ($ODOO_CHECK_WHY)")
        fi
    fi

    # c) common places, then d) the clone of an earlier run
    for dir in "${ODOO_COMMON_PLACES[@]}" "$ODOO_CLONE_DIR"; do
        if odoo_source_check "$dir"; then
            _set_odoo_dir "$dir"
            return 0
        fi
        looked+=("$dir ($ODOO_CHECK_WHY)")
    done

    local msg="Odoo 18 was not found. Looked at:" l
    for l in "${looked[@]}"; do msg+=$'\n'"         - $l"; done

    # e) clone Odoo's 18.0 branch into ODOO_CLONE_DIR
    local clone_failed
    if [[ "${LOYALTY_ODOO_NO_CLONE:-0}" == 1 ]]; then
        clone_failed="Not cloning $ODOO_GIT_URL (LOYALTY_ODOO_NO_CLONE=1)."
    else
        printf -v l '%s; ' "${looked[@]}"
        info "Odoo 18 was not found (looked at: ${l%; })"
        if _odoo_clone; then
            _set_odoo_dir "$ODOO_CLONE_DIR"
            return 0
        fi
        clone_failed="Cloning $ODOO_GIT_URL (branch $ODOO_GIT_BRANCH) into $ODOO_CLONE_DIR failed: $ODOO_CLONE_WHY"
    fi
    die "$msg
       $clone_failed
       $hint"
}

# _odoo_clone: shallow clone of the 18.0 branch of ODOO_GIT_URL into ODOO_CLONE_DIR. The clone
# goes to a temporary folder beside it, renamed once it passes odoo_source_check, so an
# interrupted clone is never taken for a source tree (and is removed by the next clone).
# Returns 1 with ODOO_CLONE_WHY (one line) on failure.
_odoo_clone() {
    local dest="$ODOO_CLONE_DIR" parent name timeout_s="${LOYALTY_ODOO_CLONE_TIMEOUT:-1800}"
    parent="$(dirname "$dest")"
    name="$(basename "$dest")"
    ODOO_CLONE_WHY=""
    if [[ ! "$timeout_s" =~ ^[1-9][0-9]*$ ]]; then
        ODOO_CLONE_WHY="LOYALTY_ODOO_CLONE_TIMEOUT must be a number of seconds, not '$timeout_s'"
        return 1
    fi
    if ! command -v git >/dev/null 2>&1; then
        ODOO_CLONE_WHY="git is not installed (on Debian: apt-get install git)"
        return 1
    fi
    if ! mkdir -p "$parent" 2>/dev/null || [[ ! -w "$parent" ]]; then
        ODOO_CLONE_WHY="cannot write to $parent"
        return 1
    fi
    {
        # two runs at once (run.sh and test.sh, two checkouts) clone once
        flock 6 2>/dev/null || true
        if odoo_source_check "$dest"; then
            return 0 # cloned meanwhile by the other run
        fi
        if [[ -e "$dest" ]]; then
            ODOO_CLONE_WHY="$dest exists but is not an Odoo 18 source ($ODOO_CHECK_WHY); remove it to clone again, or set ODOO_PATH"
            return 1
        fi
        # leftovers of interrupted clones (the lock is ours: nobody else is cloning)
        rm -rf "$parent/.$name.tmp."*
        local tmp err rc=0 progress=() t0=$SECONDS
        # (no "set -e" here: find_odoo calls this in an "if")
        if ! tmp="$(mktemp -d "$parent/.$name.tmp.XXXXXX")" || [[ -z "$tmp" ]]; then
            ODOO_CLONE_WHY="cannot create a temporary folder in $parent"
            return 1
        fi
        err="$tmp.log"
        [[ -t 2 ]] && progress=(--progress)
        info "Cloning Odoo $ODOO_GIT_BRANCH (shallow: a few hundred MB to download, about 1 GB on disk, up to ${timeout_s}s) from $ODOO_GIT_URL into $dest (reused by later runs; LOYALTY_ODOO_NO_CLONE=1 to skip, ODOO_PATH to use your own copy)"
        # bounded: a stalled transfer (< 1 kB/s for 60 s) or a run longer than timeout_s stops
        # (timeout stops git's helpers too). On Ctrl-C tee ends, and git with it at its next
        # progress line; the half-done clone is left in $tmp, removed by the next clone.
        (
            set -o pipefail
            GIT_TERMINAL_PROMPT=0 timeout -k 10 "$timeout_s" \
                git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=60 -c advice.detachedHead=false \
                clone --depth 1 --branch "$ODOO_GIT_BRANCH" --single-branch "${progress[@]}" \
                "$ODOO_GIT_URL" "$tmp/src" 2>&1 </dev/null >/dev/null | tee "$err" >&2
        ) || rc=$?
        if ((rc == 124 || (rc == 137 && SECONDS - t0 >= timeout_s))); then
            ODOO_CLONE_WHY="timed out after ${timeout_s}s (LOYALTY_ODOO_CLONE_TIMEOUT)"
        elif ((rc != 0)); then
            # git's last "fatal:"/"error:" line, else its exit status and last line
            ODOO_CLONE_WHY="$(tr '\r' '\n' <"$err" | grep -E '^(fatal|error):' | tail -n1)"
            if [[ -z "$ODOO_CLONE_WHY" ]]; then
                ODOO_CLONE_WHY="git exited with status $rc; its last words: $(tr '\r' '\n' <"$err" | grep -v '^[[:space:]]*$' | tail -n1)"
            fi
        elif ! odoo_source_check "$tmp/src"; then
            ODOO_CLONE_WHY="the branch $ODOO_GIT_BRANCH of $ODOO_GIT_URL is not an Odoo 18 source ($ODOO_CHECK_WHY)"
        elif ! mv "$tmp/src" "$dest"; then
            ODOO_CLONE_WHY="could not move the clone from $tmp/src to $dest"
        fi
        rm -rf "$tmp" "$err"
        [[ -z "$ODOO_CLONE_WHY" ]] || return 1
        info "Odoo $ODOO_GIT_BRANCH cloned into $dest (later runs reuse it; delete it to clone again)"
    } 6>"$parent/.$name.lock"
}

# --------------------------------------------------------------------------
# 4. PostgreSQL

# find_pg_bin: sets PG_BINDIR (initdb, pg_ctl, psql, createdb, ... live there).
find_pg_bin() {
    local d
    if [[ -n "${LOYALTY_PG_BIN:-}" ]]; then
        PG_BINDIR="$LOYALTY_PG_BIN"
    elif command -v pg_config >/dev/null 2>&1 && d="$(pg_config --bindir 2>/dev/null)" && [[ -x "$d/initdb" ]]; then
        PG_BINDIR="$d"
    else
        # newest /usr/lib/postgresql/<version>/bin on Debian/Ubuntu
        d="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)"
        if [[ -n "$d" ]]; then
            PG_BINDIR="$(dirname "$d")"
        elif d="$(command -v initdb || command -v psql)"; then
            PG_BINDIR="$(dirname "$d")"
        else
            PG_BINDIR=""
        fi
    fi
    [[ -n "$PG_BINDIR" && -x "$PG_BINDIR/psql" ]] ||
        die "PostgreSQL binaries not found (looked at LOYALTY_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin, PATH).
       On Debian 12: apt-get install postgresql"
}

pg_psql() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "${1:-postgres}" "${@:2}"; }

# ensure_postgres: make PGHOST/PGPORT/PGUSER point at a running server.
ensure_postgres() {
    # called again in a process (or child) that already points at our own cluster
    if [[ -n "${LOYALTY_OWN_PGHOST:-}" && "${PGHOST:-}" == "$LOYALTY_OWN_PGHOST" ]]; then
        unset PGHOST PGPORT PGUSER
    fi
    [[ -n "${LOYALTY_DB_HOST:-}" ]] && export PGHOST="$LOYALTY_DB_HOST"
    [[ -n "${LOYALTY_DB_PORT:-}" ]] && export PGPORT="$LOYALTY_DB_PORT"
    [[ -n "${LOYALTY_DB_USER:-}" ]] && export PGUSER="$LOYALTY_DB_USER"
    [[ -n "${LOYALTY_DB_PASSWORD:-}" ]] && export PGPASSWORD="$LOYALTY_DB_PASSWORD"

    if [[ -n "${PGHOST:-}" ]]; then
        # somebody else's server: use it as is
        find_pg_bin
        [[ "${PGUSER:-}" != postgres ]] ||
            die "Odoo refuses to connect as the 'postgres' role; set PGUSER (or LOYALTY_DB_USER) to a role with CREATEDB"
        info "Using the PostgreSQL server at PGHOST=$PGHOST PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-$(id -un)}"
        "$PG_BINDIR/pg_isready" -q -d postgres ||
            die "PostgreSQL at PGHOST=$PGHOST PGPORT=${PGPORT:-5432} is not answering (pg_isready failed)"
        return 0
    fi

    find_pg_bin
    [[ -x "$PG_BINDIR/initdb" && -x "$PG_BINDIR/pg_ctl" ]] ||
        die "PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BINDIR. On Debian 12: apt-get install postgresql"
    PG_PORT="${LOYALTY_PG_PORT:-5433}"
    PG_AS=()
    local base="$LOCAL_DIR"
    mkdir -p "$LOCAL_DIR" "$LOCK_DIR"
    if ((EUID == 0)); then
        # initdb/postgres refuse to run as root: run them as the postgres user
        id postgres >/dev/null 2>&1 ||
            die "running as root but there is no 'postgres' system user to run the PostgreSQL server as (apt-get install postgresql, or run as a normal user)"
        PG_AS=(runuser -u postgres --)
        if ! runuser -u postgres -- test -x "$LOCAL_DIR"; then
            base="/tmp/loyalty_club-pg-$(repo_hash)"
            warn "the postgres user cannot reach $LOCAL_DIR; keeping the PostgreSQL cluster in $base instead"
        fi
    fi
    PG_DATA="$base/pgdata"
    PG_LOG="$base/postgres.log"
    PG_SOCK="$base/pgrun"
    # unix socket paths are limited to 107 bytes: "<dir>/.s.PGSQL.<port>"
    if ((${#PG_SOCK} + ${#PG_PORT} + 10 > 107)); then
        PG_SOCK="/tmp/loyalty_club-pgrun-$(repo_hash)"
        info "socket path under $base would be too long; using $PG_SOCK"
    fi

    {
        flock 9 2>/dev/null || true
        _pg_prepare_dirs "$base"
        _pg_initdb
        _pg_start
    } 9>"$LOCK_DIR/postgres.lock"

    export PGHOST="$PG_SOCK" PGPORT="$PG_PORT" PGUSER=odoo LOYALTY_OWN_PGHOST="$PG_SOCK"
    unset PGPASSWORD
}

_pg_prepare_dirs() {
    local base="$1"
    mkdir -p "$base" "$PG_SOCK"
    touch "$PG_LOG"
    if ((EUID == 0)); then
        # the server runs as postgres: it writes the socket dir and the log
        chown postgres:postgres "$PG_SOCK" "$PG_LOG"
    elif [[ ! -O "$PG_SOCK" ]]; then
        die "$PG_SOCK exists but belongs to another user; remove it"
    fi
    # only the owner (and root) may connect: the cluster uses trust auth
    chmod 0700 "$PG_SOCK"
}

_pg_initdb() {
    [[ -s "$PG_DATA/PG_VERSION" ]] && return 0
    [[ -e "$PG_DATA" ]] &&
        die "$PG_DATA exists but is not a PostgreSQL data directory (an interrupted initdb?); remove it and retry"
    local tmp="$PG_DATA.init" out
    rm -rf "$tmp"
    mkdir -p "$tmp"
    ((EUID == 0)) && chown postgres:postgres "$tmp"
    chmod 0700 "$tmp"
    info "Creating a PostgreSQL cluster in $PG_DATA (superuser role: odoo, trust auth, unix socket only)"
    if ! out="$(cd / && "${PG_AS[@]}" "$PG_BINDIR/initdb" -D "$tmp" --auth=trust -U odoo -E UTF8 --no-locale 2>&1)"; then
        rm -rf "$tmp"
        die "initdb failed:
$out"
    fi
    mv "$tmp" "$PG_DATA"
}

_pg_ready() { "$PG_BINDIR/pg_isready" -q -h "$PG_SOCK" -p "$PG_PORT" -U odoo -d postgres; }

_pg_start() {
    _pg_ready && return 0
    local i
    if (cd / && "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1); then
        # already running (maybe still starting up): wait for it
        for ((i = 0; i < 60; i++)); do
            _pg_ready && return 0
            sleep 0.5
        done
        die "a PostgreSQL server is running on $PG_DATA but does not answer on $PG_SOCK port $PG_PORT.
       Stop it with: ${PG_AS[*]} $PG_BINDIR/pg_ctl -D $PG_DATA stop"
    fi
    info "Starting PostgreSQL (data $PG_DATA, socket $PG_SOCK, port $PG_PORT, log $PG_LOG)"
    # Unix socket only; a private throwaway dev cluster, so durability is traded for speed.
    local opts="-k '$PG_SOCK' -p $PG_PORT -c listen_addresses='' -c unix_socket_permissions=0700"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    # close the lock fds (8, 9) so the long-lived postmaster does not inherit them
    if ! (cd / && "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -o "$opts" start >/dev/null 8>&- 9>&-); then
        printf '%s\n' "--- last lines of $PG_LOG:" >&2
        tail -n 15 "$PG_LOG" >&2 || true
        die "PostgreSQL could not start (data dir $PG_DATA, log $PG_LOG)"
    fi
    _pg_ready || die "PostgreSQL started but does not answer on $PG_SOCK port $PG_PORT (log: $PG_LOG)"
}

# --------------------------------------------------------------------------
# databases

check_db_name() {
    [[ "$1" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "invalid database name '$1' (use letters, digits, _ . -)"
}

db_exists() {
    check_db_name "$1"
    [[ "$(pg_psql postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$1'")" == 1 ]]
}

db_comment() {
    check_db_name "$1"
    pg_psql postgres -Atc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$1'"
}

# drop_db DB: drop the database (kicking out sessions) and its filestore.
drop_db() {
    check_db_name "$1"
    "$PG_BINDIR/dropdb" --if-exists --force "$1"
    rm -rf "${DATA_DIR:?}/filestore/$1"
}

# clone_db SRC DST: createdb -T SRC DST, plus a copy (hard links) of SRC's filestore.
clone_db() {
    local src="$1" dst="$2" fs="$DATA_DIR/filestore"
    check_db_name "$src"
    check_db_name "$dst"
    "$PG_BINDIR/createdb" -T "$src" "$dst" || die "createdb -T $src $dst failed"
    rm -rf "${fs:?}/$dst"
    if [[ -d "$fs/$src" ]]; then
        if ! cp -al "$fs/$src" "$fs/$dst" 2>/dev/null; then
            rm -rf "${fs:?}/$dst"
            cp -a "$fs/$src" "$fs/$dst"
        fi
    fi
}

# module_state DB MODULE: prints e.g. "installed" (empty if unknown).
module_state() {
    pg_psql "$1" -Atc "SELECT state FROM ir_module_module WHERE name = '$2'" 2>/dev/null || true
}

# --------------------------------------------------------------------------
# running Odoo

# odoo_run [shell] ARGS...: run Odoo with the common arguments (config, addons
# path, data dir, database connection).
odoo_run() {
    if [[ "${1:-}" == shell ]]; then
        shift
        "${ODOO_CMD[@]}" shell "${ODOO_ARGS[@]}" "$@"
    else
        "${ODOO_CMD[@]}" "${ODOO_ARGS[@]}" "$@"
    fi
}

# odoo_run_logged LOG ARGS...: odoo_run, output to the terminal and to LOG; returns Odoo's exit code.
# Odoo runs in the background in a process group of its own, writing to LOG directly (stdin from
# /dev/null); "tail -f --pid" copies LOG to the terminal until Odoo is gone. Whatever Odoo leaves
# behind in its group (e.g. a headless Chromium of a browser test, which keeps Odoo's output open)
# is stopped once Odoo exits (TERM, then KILL), so nothing waits for it. INT, TERM and HUP stop
# Odoo's group too, then do what the caller's trap for that signal does (or the default).
odoo_run_logged() {
    local log="$1" rc=0 monitor=0 sig prev
    shift
    : >"$log" || return 1
    _OLR_PREV=()
    for sig in INT TERM HUP; do
        prev="$(trap -p "$sig")"
        _OLR_PREV+=("$prev")
        # a signal the caller ignores stays ignored
        [[ "$prev" == "trap -- '' SIG$sig" ]] || trap "_odoo_run_logged_signal $sig" "$sig"
    done
    [[ $- == *m* ]] && monitor=1
    # job control on for this one job only: it gets its own process group (PGID = its PID). The
    # lock descriptors (6-9, see ensure_template) are not passed on: a leftover must not hold them.
    set -m
    odoo_run "$@" </dev/null >>"$log" 2>&1 6>&- 7>&- 8>&- 9>&- &
    _OLR_PID=$!
    ((monitor)) || set +m
    tail -n +1 -s 0.5 -f --pid="$_OLR_PID" "$log" &
    _OLR_TAIL=$!
    while :; do
        rc=0
        wait "$_OLR_PID" || rc=$?
        # a status > 128 with Odoo still there: a trap (that did not exit) interrupted wait
        ((rc > 128)) && kill -0 "$_OLR_PID" 2>/dev/null || break
    done
    # tail prints what is left once it sees Odoo gone (within its 0.5 s interval)
    wait "$_OLR_TAIL" 2>/dev/null || true
    _pgrp_stop "$_OLR_PID" 5 "left behind by Odoo"
    _odoo_run_logged_restore_traps
    _OLR_PID=""
    return "$rc"
}

_odoo_run_logged_restore_traps() {
    local i sigs=(INT TERM HUP)
    for i in 0 1 2; do
        if [[ -n "${_OLR_PREV[i]}" ]]; then
            eval "${_OLR_PREV[i]}"
        else
            trap - "${sigs[i]}"
        fi
    done
}

# _odoo_run_logged_signal SIG: trap of odoo_run_logged: stop Odoo's group, then the caller's trap.
_odoo_run_logged_signal() {
    local sig="$1" i prev
    case "$sig" in INT) i=0 ;; TERM) i=1 ;; *) i=2 ;; esac
    prev="${_OLR_PREV[i]}"
    if [[ -n "${_OLR_PID:-}" ]]; then
        printf '\n' >&2
        warn "SIG$sig: stopping Odoo (process group $_OLR_PID)"
        _pgrp_stop "$_OLR_PID" 6 ""
        kill "$_OLR_TAIL" 2>/dev/null || true
    fi
    _odoo_run_logged_restore_traps
    if [[ -n "$prev" ]]; then
        # e.g. test.sh's "exit 130": its EXIT trap then drops the test database
        eval "set -- $prev"
        eval "$3"
    else
        kill -s "$sig" "$BASHPID"
    fi
}

# _pgrp_procs PGID: "PID NAME" of every process of group PGID that still runs (zombies, which an
# init that does not reap orphans may keep, do not count). _pgrp_alive PGID: there is one.
_pgrp_procs() {
    ps -e -o pgid=,pid=,stat=,comm= 2>/dev/null | awk -v g="$1" '$1 == g && $3 !~ /^Z/ { print $2, $4 }'
}
_pgrp_alive() {
    if command -v ps >/dev/null 2>&1; then
        [[ -n "$(_pgrp_procs "$1")" ]]
    else
        kill -0 -- "-$1" 2>/dev/null
    fi
}

# _pgrp_stop PGID GRACE WHAT: TERM to every process of group PGID, again halfway through GRACE
# seconds (Odoo shuts down at once on a second one), KILL to those still there after GRACE
# seconds. With WHAT, says so when there was something to stop.
_pgrp_stop() {
    local pgid="$1" grace="$2" what="$3" i
    _pgrp_alive "$pgid" || return 0
    [[ -z "$what" ]] || info "Stopping the processes $what (process group $pgid): $(_pgrp_procs "$pgid" | paste -sd, - | sed 's/,/, /g')"
    kill -TERM -- "-$pgid" 2>/dev/null || return 0
    for ((i = 1; i <= grace * 10; i++)); do
        sleep 0.1
        _pgrp_alive "$pgid" || return 0
        ((i != grace * 5)) || kill -TERM -- "-$pgid" 2>/dev/null || true
    done
    warn "processes of group $pgid still run ${grace}s after SIGTERM: SIGKILL"
    kill -KILL -- "-$pgid" 2>/dev/null || true
}

# free_port START: first TCP port >= START (up to START+99) nobody listens on.
free_port() {
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
start = int(sys.argv[1])
for port in range(start, start + 100):
    with socket.socket() as s:
        # like the HTTP server itself: TIME_WAIT leftovers do not count as busy
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit(1)
EOF
}

# start_bench_server LOG PORT ARGS...: odoo-bin in the background on 127.0.0.1:PORT with the
# benchmarks' limits (ARGS: the database filter, --workers=N, ...), its log in LOG. Waits until it
# answers /web/health (120 s at most); sets SERVER_PID; stop_bench_server stops it (also on exit).
start_bench_server() {
    local log="$1" port="$2" i
    shift 2
    # exec: the PID is then the Odoo master itself, so killing it stops its workers too
    (exec "${ODOO_CMD[@]}" "${ODOO_ARGS[@]}" --max-cron-threads=0 --http-port="$port" --http-interface=127.0.0.1 \
        --limit-time-real=600 --limit-time-cpu=600 --limit-memory-soft=4294967296 \
        --limit-memory-hard=5368709120 "$@" >"$log" 2>&1) &
    SERVER_PID=$!
    trap stop_bench_server EXIT
    for ((i = 0; i < 120; i++)); do
        curl -fs "http://127.0.0.1:$port/web/health" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "odoo-bin stopped while starting; see $log"
        sleep 1
    done
    die "odoo-bin did not answer on port $port within 120 s; see $log"
}

stop_bench_server() {
    [[ -n "${SERVER_PID:-}" ]] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    trap - EXIT
}

# addon_hash: hash of the addon's files (a template that follows the code under test)
addon_hash() {
    (cd "$ADDON_PARENT" && find "$ADDON_NAME" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# addon_depends [ADDON]: comma-separated "depends" of ADDON's __manifest__.py (default loyalty_club).
addon_depends() {
    local manifest="$ADDON_PARENT/${1:-$ADDON_NAME}/__manifest__.py"
    [[ -f "$manifest" ]] || die "$manifest not found (LOYALTY_ADDON_DIR=${LOYALTY_ADDON_DIR:-<repo root>})"
    "${PYTHON:-python3}" - "$manifest" <<'EOF'
import ast, sys
with open(sys.argv[1], encoding="utf-8") as f:
    manifest = ast.literal_eval(f.read())
print(",".join(manifest.get("depends") or ["base"]))
EOF
}

# repo_addons [DIR]: the repository's addons, one a line, loyalty_club first: every folder of DIR
# (default ADDON_PARENT) with a __manifest__.py (not marked "installable": False).
# bridge_addons: the same without loyalty_club (e.g. loyalty_club_website_sale).
repo_addons() {
    local dir="${1:-$ADDON_PARENT}"
    "${PYTHON:-python3}" - "$dir" "$ADDON_NAME" <<'EOF' || die "could not list the addons of $dir"
import ast, os, sys
parent, main = sys.argv[1:3]
names = []
for name in sorted(os.listdir(parent)):
    manifest = os.path.join(parent, name, "__manifest__.py")
    if not os.path.isfile(manifest):
        continue
    with open(manifest, encoding="utf-8") as f:
        try:
            installable = ast.literal_eval(f.read()).get("installable", True)
        except (SyntaxError, ValueError) as e:
            sys.exit(f"ERROR: {manifest}: not a Python dict literal ({e})")
    if installable:
        names.append(name)
print("\n".join(sorted(names, key=lambda n: (n != main, n))))
EOF
}
bridge_addons() {
    local all
    all="$(repo_addons)" || return 1
    grep -vxF "$ADDON_NAME" <<<"$all" || true
}

# The repository's other addons (bridges: loyalty_club_website_sale) are tested (test.sh) and
# translated (i18n.sh) in copies of a template of their own: the main template (TEST_TEMPLATE_DB)
# plus the Odoo modules of the addon's depends (not the repository's addons: -i installs them with
# the addon) and those TEMPLATE_EXTRA adds for one of them. The addon's phase NAME (BRIDGE_PHASE,
# else its name without "loyalty_club_") names the template, loyalty_club_NAME_tpl, and test.sh's
# phase and switch LOYALTY_TEST_NAME=0.
declare -gA BRIDGE_PHASE=([loyalty_club_website_sale]=website)
# payment_demo: a payment provider the web shop's checkout (and its browser tours) can pay with
declare -gA TEMPLATE_EXTRA=([website_sale]=payment_demo)

# bridge_phase ADDON: the addon's phase name (see above).
bridge_phase() {
    local name="${BRIDGE_PHASE[$1]:-${1#"${ADDON_NAME}_"}}"
    [[ "$name" =~ ^[a-z0-9_]+$ && ! "$name" =~ ^(main|native|demo)$ ]] ||
        die "addon $1: no phase name ('$name'); give it one in BRIDGE_PHASE (scripts/lib.sh)"
    printf '%s' "$name"
}

# bridge_template_modules ADDON: comma-separated Odoo modules the addon's template adds to the
# main template (empty when there are none: the addon's template is then the main one).
bridge_template_modules() {
    local dep deps mods=() all
    all="$(repo_addons)" || return 1
    deps="$(addon_depends "$1")" || return 1
    IFS=',' read -r -a deps <<<"$deps"
    for dep in "${deps[@]}"; do
        grep -qxF "$dep" <<<"$all" && continue
        mods+=("$dep")
        [[ -z "${TEMPLATE_EXTRA[$dep]:-}" ]] || mods+=("${TEMPLATE_EXTRA[$dep]}")
    done
    (
        IFS=,
        printf '%s' "${mods[*]}"
    )
}

# bridge_template ADDON: the name of the addon's template database.
bridge_template() {
    local modules phase
    modules="$(bridge_template_modules "$1")" || return 1
    phase="$(bridge_phase "$1")" || return 1
    if [[ -z "$modules" ]]; then
        printf '%s' "$TEST_TEMPLATE_DB"
    else
        printf '%s' "${ADDON_NAME}_${phase}_tpl"
    fi
}

# ensure_bridge_template ADDON: build (or reuse) the addon's template, with pre-generated web
# assets like the main one (bridges have browser tours); ensure the main template first. It
# follows the main template: ensure_template rebuilds it whenever the main one was (FROM's stamp).
ensure_bridge_template() {
    local modules template
    modules="$(bridge_template_modules "$1")" || die "could not read the depends of $1"
    template="$(bridge_template "$1")" || die "no template for $1"
    [[ -z "$modules" ]] || ensure_template "$template" "$modules" 1 "$TEST_TEMPLATE_DB" 1
}

# odoo_revision: something that changes when the Odoo source changes.
odoo_revision() {
    if [[ -d "$ODOO_DIR/.git" ]] && command -v git >/dev/null 2>&1; then
        git -C "$ODOO_DIR" rev-parse HEAD 2>/dev/null && return 0
    fi
    stat -c '%Y' "$ODOO_DIR/odoo/release.py"
}

# ensure_template DB MODULES DEMO [FROM] [ASSETS] [EXTRA_STAMP]: a database with MODULES
# (comma-separated) installed, with demo data when DEMO is 1, and web assets pre-generated
# unless ASSETS is 0. With FROM (another template), DB starts as a copy of FROM and only
# MODULES are installed on top, so several templates share the cost of their common base.
# Rebuilt only when the module list, DEMO, the Odoo source, FROM's own stamp or EXTRA_STAMP
# (e.g. a hash of an addon's files) changed; the build stamp is stored as the database's COMMENT.
ensure_template() {
    local db="$1" modules="$2" demo="${3:-1}" from="${4:-}" assets="${5:-1}" extra="${6:-}" stamp log demo_args=()
    check_db_name "$db"
    case "$demo" in 1 | true | yes) demo=1 ;; *) demo=0 ;; esac
    ((demo)) || demo_args=(--without-demo=all)
    # rtlcss is part of the stamp: right-to-left bundles pre-generated without it are plain LTR CSS
    stamp="$(printf 'modules=%s demo=%s odoo=%s:%s data=%s rtlcss=%s' \
        "$(tr ',' '\n' <<<"$modules" | sort -u | paste -sd, -)" "$demo" "$ODOO_DIR" "$(odoo_revision)" "$DATA_DIR" \
        "$(command -v rtlcss || true)" |
        sha256sum | cut -c1-16)"
    if [[ -n "$from" || "$assets" != 1 || -n "$extra" ]]; then
        # only for the new arguments: the stamps of existing templates stay valid
        local from_stamp=""
        [[ -z "$from" ]] || ! db_exists "$from" || from_stamp="$(db_comment "$from")"
        stamp="$(printf '%s from=%s:%s assets=%s extra=%s' "$stamp" "$from" "$from_stamp" "$assets" "$extra" |
            sha256sum | cut -c1-16)"
    fi
    stamp="loyalty_club template $stamp"
    mkdir -p "$LOCK_DIR" "$LOG_DIR"
    {
        if ! flock -n 8 2>/dev/null; then
            info "Waiting for another process building template $db ..."
            flock 8 2>/dev/null || true
        fi
        if db_exists "$db" && [[ "$(db_comment "$db")" == "$stamp" && -d "$DATA_DIR/filestore/$db" ]]; then
            info "Reusing template database $db ($modules)"
        else
            log="$LOG_DIR/template-$db-$(date +%Y%m%d-%H%M%S).log"
            info "Building template database $db with: $modules${from:+ on top of $from} (demo data: $([[ $demo == 1 ]] && echo yes || echo no)); log: $log"
            drop_db "$db"
            if [[ -n "$from" ]]; then
                db_exists "$from" || die "template $from (the base of $db) does not exist"
                clone_db "$from" "$db"
            fi
            if ! odoo_run_logged "$log" -d "$db" -i "$modules" "${demo_args[@]}" \
                --stop-after-init --no-http --workers=0 --max-cron-threads=0; then
                die "building template $db failed; see $log"
            fi
            if [[ "$assets" == 1 ]]; then
                info "Pre-generating web asset bundles in $db"
                if ! printf '%s\n' "env['ir.qweb']._pregenerate_assets_bundles()" "env.cr.commit()" |
                    odoo_run shell -d "$db" --no-http --workers=0 --max-cron-threads=0 >>"$log" 2>&1; then
                    die "pre-generating assets in $db failed; see $log"
                fi
            fi
            mkdir -p "$DATA_DIR/filestore/$db"
            pg_psql postgres -c "COMMENT ON DATABASE \"$db\" IS '$stamp'"
            info "Template $db ready"
        fi
    } 8>"$LOCK_DIR/template-$db.lock"
}

# --------------------------------------------------------------------------
# everything

# ensure_node_tools: npm packages the project uses, installed into .local/npm:
#   rtlcss                       Odoo builds right-to-left stylesheets (Persian, Arabic) with it
#   prettier, @prettier/plugin-xml   XML/SCSS/JS formatting checked by scripts/lint.sh
# Without npm (or if the registry does not answer) the scripts go on with a warning:
# RTL pages then get LTR styles and scripts/lint.sh stops with a clear message.
NODE_TOOLS_DIR="$LOCAL_DIR/npm"
NODE_TOOLS=(rtlcss@4.3.0 prettier@3.10.1 @prettier/plugin-xml@3.4.2)
ensure_node_tools() {
    local stamp_file="$NODE_TOOLS_DIR/.stamp"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "${NODE_TOOLS[*]}" ]]; then
        export PATH="$NODE_TOOLS_DIR/node_modules/.bin:$PATH"
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        warn "npm missing: no rtlcss (Persian/Arabic pages use left-to-right styles) and no prettier for scripts/lint.sh (apt-get install npm)"
        return 0
    fi
    info "Installing ${NODE_TOOLS[*]} into $NODE_TOOLS_DIR"
    mkdir -p "$NODE_TOOLS_DIR" "$LOG_DIR"
    # bounded: a registry that does not answer must not stall the run
    if timeout 300 npm install --prefix "$NODE_TOOLS_DIR" --no-audit --no-fund "${NODE_TOOLS[@]}" \
        >"$LOG_DIR/npm-tools.log" 2>&1; then
        printf '%s\n' "${NODE_TOOLS[*]}" >"$stamp_file"
        export PATH="$NODE_TOOLS_DIR/node_modules/.bin:$PATH"
    else
        warn "npm could not install ${NODE_TOOLS[*]} (see $LOG_DIR/npm-tools.log): right-to-left pages will use left-to-right styles"
    fi
}

# setup_all: python, venv, Odoo, PostgreSQL; sets ODOO_CMD and ODOO_ARGS.
setup_all() {
    find_python
    ensure_venv
    ensure_node_tools
    ensure_postgres
    mkdir -p "$LOG_DIR" "$DATA_DIR"
    [[ -f "$ODOO_CONF" ]] || printf '%s\n' \
        '# Passed to Odoo by scripts/run.sh and scripts/test.sh (-c). Command-line options win.' \
        '[options]' >"$ODOO_CONF"
    # Key of the PIN hashes (loyalty_club): a random secret of this checkout, kept out of
    # the database. Production servers set their own in their Odoo configuration file.
    if ! grep -q '^loyalty_club_pin_secret' "$ODOO_CONF"; then
        printf 'loyalty_club_pin_secret = %s\n' "$("$VENV_PY" -c 'import secrets; print(secrets.token_hex(32))')" \
            >>"$ODOO_CONF"
        chmod 600 "$ODOO_CONF"
    fi
    if [[ -n "$ODOO_BIN" ]]; then
        ODOO_CMD=("$VENV_PY" "$ODOO_BIN")
    else
        ODOO_CMD=("$VENV_PY" -m odoo)
    fi
    ODOO_ARGS=(--config="$ODOO_CONF" --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR")
    [[ -n "${PGHOST:-}" ]] && ODOO_ARGS+=(--db_host="$PGHOST")
    [[ -n "${PGPORT:-}" ]] && ODOO_ARGS+=(--db_port="$PGPORT")
    [[ -n "${PGUSER:-}" ]] && ODOO_ARGS+=(--db_user="$PGUSER")
    # PGPASSWORD, if any, reaches Odoo through the environment (not the command line)
    info "Odoo 18 at $ODOO_DIR; addons path: $ADDONS_PATH"
}
