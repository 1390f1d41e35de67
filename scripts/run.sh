#!/usr/bin/env bash
# Set everything up and run Odoo 18 with loyalty_club on a demo database.
#
#   ./scripts/run.sh             create the demo database if needed, then serve it
#   ./scripts/run.sh --update    also update loyalty_club (-u) before serving
#   ./scripts/run.sh --reset     drop the demo database and start from scratch
#   ./scripts/run.sh --smoke     smoke-test the demo instead of serving it: start Odoo on a free
#                                port, log in as each demo role (scripts/demo_smoke.py), stop
#   ./scripts/run.sh -- ARGS     pass ARGS on to odoo-bin (e.g. -- --dev=xml)
#
# The demo database has loyalty_club's demo data and Odoo's Persian translations (fa_IR).
# Env: LOYALTY_DEMO_DB (default loyalty_club_demo), LOYALTY_HTTP_PORT (default 8069).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

UPDATE=0
RESET=0
SMOKE=0
EXTRA=()
while (($#)); do
    case "$1" in
    -u | --update)
        UPDATE=1
        shift
        ;;
    --reset)
        RESET=1
        shift
        ;;
    --smoke)
        SMOKE=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        EXTRA=("$@")
        break
        ;;
    *) die "unknown argument '$1' (see ./scripts/run.sh --help; odoo-bin options go after --)" ;;
    esac
done

DB="${LOYALTY_DEMO_DB:-${ADDON_NAME}_demo}"
PORT="${LOYALTY_HTTP_PORT:-8069}"
check_db_name "$DB"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "LOYALTY_HTTP_PORT must be a port number, not '$PORT'"

setup_all

((SMOKE)) || [[ "$(free_port "$PORT" || true)" == "$PORT" ]] ||
    die "port $PORT is already in use; stop whatever listens there or set LOYALTY_HTTP_PORT"

if ((RESET)) && db_exists "$DB"; then
    info "Dropping database $DB (--reset)"
    drop_db "$DB"
fi

LOG="$LOG_DIR/run-install-$(date +%Y%m%d-%H%M%S).log"
# install_addon ACTION: -i or -u loyalty_club in $DB (-i also loads Odoo's Persian translations);
# demo data that fail to load are an error here (Odoo itself only logs a warning and goes on).
install_addon() {
    local languages=()
    [[ "$1" != -i ]] || languages=(--load-language=fa_IR)
    odoo_run_logged "$LOG" -d "$DB" "$1" "$ADDON_NAME" "${languages[@]}" \
        --stop-after-init --no-http --workers=0 --max-cron-threads=0 || return 1
    if grep -q "demo data failed to install" "$LOG"; then
        warn "$ADDON_NAME's demo data failed to load into $DB; see $LOG"
        return 1
    fi
}
if ! db_exists "$DB"; then
    ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
    info "Creating database $DB from $TEST_TEMPLATE_DB and installing $ADDON_NAME with demo data; log: $LOG"
    clone_db "$TEST_TEMPLATE_DB" "$DB"
    if ! install_addon -i; then
        drop_db "$DB" || true
        die "installing $ADDON_NAME into $DB failed; see $LOG"
    fi
elif [[ "$(module_state "$DB" "$ADDON_NAME")" != installed ]]; then
    info "$ADDON_NAME is not installed in $DB yet: installing it; log: $LOG"
    install_addon -i || die "installing $ADDON_NAME into $DB failed; see $LOG"
elif ((UPDATE)); then
    info "Updating $ADDON_NAME in $DB; log: $LOG"
    install_addon -u || die "updating $ADDON_NAME in $DB failed; see $LOG"
fi

if ((SMOKE)); then
    port="$(free_port "$PORT")" || die "no free TCP port found from $PORT on"
    SMOKE_LOG="$LOG_DIR/run-smoke-$(date +%Y%m%d-%H%M%S).log"
    info "Smoke test of $DB on http://127.0.0.1:$port; server log: $SMOKE_LOG"
    start_bench_server "$SMOKE_LOG" "$port" -d "$DB" --db-filter "^$DB\$" --workers=0 "${EXTRA[@]}"
    rc=0
    "$VENV_PY" "$LIB_DIR/demo_smoke.py" --url "http://127.0.0.1:$port" --db "$DB" || rc=$?
    stop_bench_server
    ((rc == 0)) || die "the demo smoke test failed (server log: $SMOKE_LOG)"
    info "The demo smoke test passed"
    exit 0
fi

echo "Odoo is starting on http://localhost:$PORT — database $DB, login: admin, password: admin"
exec "${ODOO_CMD[@]}" "${ODOO_ARGS[@]}" --http-port "$PORT" -d "$DB" --db-filter "^$DB\$" "${EXTRA[@]}"
