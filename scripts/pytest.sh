#!/usr/bin/env bash
# Run one test file, class or test of loyalty_club with pytest (pytest-odoo) against a kept database.
#
#   ./scripts/pytest.sh loyalty_club/tests/test_ledger.py                     one file
#   ./scripts/pytest.sh loyalty_club/tests/test_ledger.py::TestLedgerPosting  one class
#   ./scripts/pytest.sh loyalty_club/tests/test_ledger.py -k "idempotency and not wizard" -x
#   ./scripts/pytest.sh -u tests/test_ledger.py    update the addon (-u) in the database first
#   ./scripts/pytest.sh --reset tests/...          drop the database and install the addon afresh
#   ./scripts/pytest.sh --db NAME tests/...        another kept database (default loyalty_club_pytest)
#
# Other arguments (and everything after --) go to pytest; paths are relative to the repository
# (tests/... is read as loyalty_club/tests/...). The database is a copy of the test template with
# loyalty_club installed, created on the first run and kept: later runs skip the install. Python
# changes of the addon are picked up by every run; data, views or fields need -u. HttpCase tests
# (tours, routes) are skipped unless --odoo-http is given; the test command is ./scripts/test.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

DB="${LOYALTY_PYTEST_DB:-${ADDON_NAME}_pytest}"
UPDATE=0
RESET=0
ARGS=()
while (($#)); do
    case "$1" in
    --db)
        [[ $# -ge 2 && -n "$2" ]] || die "--db needs a database name"
        DB="$2"
        shift 2
        ;;
    --db=*)
        DB="${1#--db=}"
        shift
        ;;
    -u | --update)
        UPDATE=1
        shift
        ;;
    --reset)
        RESET=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        ARGS+=("$@")
        break
        ;;
    *)
        ARGS+=("$1")
        shift
        ;;
    esac
done
check_db_name "$DB"

setup_all
cd "$ADDON_PARENT"

# tests/test_x.py (relative to the addon) means loyalty_club/tests/test_x.py
has_path=0
for i in "${!ARGS[@]}"; do
    a="${ARGS[$i]}"
    if [[ "$a" != -* && ! -e "${a%%::*}" && -e "$ADDON_NAME/${a%%::*}" ]]; then
        a="$ADDON_NAME/$a"
        ARGS[i]="$a"
    fi
    if [[ "$a" != -* && -e "${a%%::*}" ]]; then
        has_path=1
    fi
done
((has_path)) || ARGS+=("$ADDON_NAME/tests")

# the database comment records the addon files it was installed/updated with
db_ready() {
    local log="$LOG_DIR/pytest-db-$DB-$(date +%Y%m%d-%H%M%S).log" action=""
    if ((RESET)) && db_exists "$DB"; then
        info "Dropping database $DB (--reset)"
        drop_db "$DB"
    fi
    if ! db_exists "$DB"; then
        ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
        info "Creating database $DB from $TEST_TEMPLATE_DB and installing $ADDON_NAME; log: $log"
        clone_db "$TEST_TEMPLATE_DB" "$DB"
        action="-i"
    elif [[ "$(module_state "$DB" "$ADDON_NAME")" != installed ]]; then
        info "$ADDON_NAME is not installed in $DB: installing it; log: $log"
        action="-i"
    elif ((UPDATE)); then
        info "Updating $ADDON_NAME in $DB (-u); log: $log"
        action="-u"
    fi
    if [[ -n "$action" ]]; then
        if ! odoo_run_logged "$log" -d "$DB" "$action" "$ADDON_NAME" \
            --stop-after-init --no-http --workers=0 --max-cron-threads=0 >/dev/null; then
            [[ "$action" == -u ]] || drop_db "$DB" || true
            die "$action $ADDON_NAME in $DB failed; see $log"
        fi
        pg_psql postgres -c "COMMENT ON DATABASE \"$DB\" IS 'loyalty_club pytest $(addon_hash)'"
    elif [[ "$(db_comment "$DB")" != "loyalty_club pytest $(addon_hash)" ]]; then
        info "The addon's files changed since $DB was installed or updated; if the tests need new" \
            "fields, views or data, run again with -u"
    fi
}
mkdir -p "$LOCK_DIR"
{
    flock 8 2>/dev/null || true
    db_ready
} 8>"$LOCK_DIR/pytest-$DB.lock"

# Odoo's options for pytest-odoo: the scripts' config file and the database, and the rest of
# ODOO_ARGS (addons path, data dir, database connection) as --odoo-extra=OPTION=VALUE
PYTEST_ODOO=(--odoo-database="$DB")
for a in "${ODOO_ARGS[@]}"; do
    case "$a" in
    --config=*) PYTEST_ODOO+=(--odoo-config="${a#--config=}") ;;
    --*) PYTEST_ODOO+=(--odoo-extra="${a#--}") ;;
    esac
done

info "pytest on the kept database $DB (apply the addon's changes with -u, start afresh with --reset; drop it with: PGHOST=$PGHOST PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-$(id -un)} $PG_BINDIR/dropdb $DB)"
exec "$VENV_PY" -m pytest -o cache_dir="$LOCAL_DIR/pytest_cache" --rootdir="$ADDON_PARENT" \
    "${PYTEST_ODOO[@]}" "${ARGS[@]}"
