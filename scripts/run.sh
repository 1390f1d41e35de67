#!/usr/bin/env bash
# Set everything up and run Odoo 18 with loyalty_club on a demo database.
#
#   ./scripts/run.sh             create the demo database if needed, then serve it
#   ./scripts/run.sh --update    also update loyalty_club (-u) before serving
#   ./scripts/run.sh --reset     drop the demo database and start from scratch
#   ./scripts/run.sh -- ARGS     pass ARGS on to odoo-bin (e.g. -- --dev=xml)
#
# Env: LOYALTY_DEMO_DB (default loyalty_club_demo), LOYALTY_HTTP_PORT (default 8069).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

UPDATE=0
RESET=0
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

[[ "$(free_port "$PORT" || true)" == "$PORT" ]] ||
    die "port $PORT is already in use; stop whatever listens there or set LOYALTY_HTTP_PORT"

if ((RESET)) && db_exists "$DB"; then
    info "Dropping database $DB (--reset)"
    drop_db "$DB"
fi

LOG="$LOG_DIR/run-install-$(date +%Y%m%d-%H%M%S).log"
if ! db_exists "$DB"; then
    ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
    info "Creating database $DB from $TEST_TEMPLATE_DB and installing $ADDON_NAME with demo data; log: $LOG"
    clone_db "$TEST_TEMPLATE_DB" "$DB"
    if ! odoo_run_logged "$LOG" -d "$DB" -i "$ADDON_NAME" \
        --stop-after-init --no-http --workers=0 --max-cron-threads=0; then
        drop_db "$DB" || true
        die "installing $ADDON_NAME into $DB failed; see $LOG"
    fi
elif [[ "$(module_state "$DB" "$ADDON_NAME")" != installed ]]; then
    info "$ADDON_NAME is not installed in $DB yet: installing it; log: $LOG"
    odoo_run_logged "$LOG" -d "$DB" -i "$ADDON_NAME" \
        --stop-after-init --no-http --workers=0 --max-cron-threads=0 ||
        die "installing $ADDON_NAME into $DB failed; see $LOG"
elif ((UPDATE)); then
    info "Updating $ADDON_NAME in $DB; log: $LOG"
    odoo_run_logged "$LOG" -d "$DB" -u "$ADDON_NAME" \
        --stop-after-init --no-http --workers=0 --max-cron-threads=0 ||
        die "updating $ADDON_NAME in $DB failed; see $LOG"
fi

echo "Odoo is starting on http://localhost:$PORT — database $DB, login: admin, password: admin"
exec "${ODOO_CMD[@]}" "${ODOO_ARGS[@]}" --http-port "$PORT" -d "$DB" --db-filter "^$DB\$" "${EXTRA[@]}"
