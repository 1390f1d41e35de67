#!/usr/bin/env bash
# Tills under load: paid member orders sent over JSON-RPC to odoo-bin --workers (loopback only).
#
#   ./bench/till_load.sh                 200 orders per 8-till scenario (800 for 32 tills), 4 workers
#   ./bench/till_load.sh --orders 100 --server-workers 2
#
# Options:
#   --orders N            orders of the 8-till scenarios (x4 for 32 tills; default 200)
#   --server-workers W    odoo-bin --workers (default 4)
#   --port PORT           first HTTP port tried (default $LOYALTY_BENCH_HTTP_PORT or 8643)
#   --out FILE            where the results go (default bench/results/till_load.json)
#   --count-only          only the statement counts (also runs on the code before holds)
#
# Database: loyalty_club_till_load, a copy of the benchmark template (the addon without demo
# data, see bench/run.sh), rebuilt at each run. Prints the statements of one member order paying
# with points (PIN check, hold, sync), then one JSON line per scenario: orders/s, median and p95
# of the sync, retries the server logged, and the SQL checks (missing, doubled, lost_card,
# flagged, balance_mismatches: all must be 0).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

ORDERS=200
SERVER_WORKERS=4
PORT_FROM="${LOYALTY_BENCH_HTTP_PORT:-8643}"
OUT="$REPO_ROOT/bench/results/till_load.json"
COUNT_ONLY=0
while (($#)); do
    case "$1" in
    --orders) ORDERS="$2"; shift 2 ;;
    --server-workers) SERVER_WORKERS="$2"; shift 2 ;;
    --port) PORT_FROM="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --count-only) COUNT_ONLY=1; shift ;;
    -h | --help) sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see ./bench/till_load.sh --help)" ;;
    esac
done
for value in "$ORDERS" "$SERVER_WORKERS" "$PORT_FROM"; do
    [[ "$value" =~ ^[0-9]+$ ]] || die "numbers only: '$value'"
done
((ORDERS >= 16 && ORDERS <= 5000)) || die "--orders must be between 16 and 5000"

BASE_TPL=loyalty_club_bench_base_tpl
BENCH_TPL=loyalty_club_bench_tpl
DB=loyalty_club_till_load
STAMP="$(date +%Y%m%d-%H%M%S)"
setup_all
LOG="$LOG_DIR/till-load-$STAMP.log"
STATE="$LOCAL_DIR/bench/till_load_state.json"
mkdir -p "$(dirname "$STATE")" "$(dirname "$OUT")"

till_py() {
    "$VENV_PY" "$REPO_ROOT/bench/till_load.py" "$@" --db "$DB" --odoo-dir "$ODOO_DIR" --log "$LOG" \
        --state "$STATE" -- "${ODOO_ARGS[@]}"
}

info "Templates (the addon without demo data) and a fresh database $DB"
ensure_template "$BASE_TPL" "$(addon_depends)" 0 "" 0 >/dev/null
ensure_template "$BENCH_TPL" "$ADDON_NAME" 0 "$BASE_TPL" 0 "$(addon_hash)" >/dev/null
drop_db "$DB"
clone_db "$BENCH_TPL" "$DB"
till_py setup
info "Statements of one member order paying with points (warm caches)"
till_py count --out "$OUT.count"
((!COUNT_ONLY)) || exit 0

PORT="$(free_port "$PORT_FROM")" || die "no free TCP port from $PORT_FROM on (--port)"
SERVER_LOG="$LOG_DIR/till-load-server-$STAMP.log"
info "Starting odoo-bin --workers=$SERVER_WORKERS on 127.0.0.1:$PORT (log $SERVER_LOG)"
start_bench_server "$SERVER_LOG" "$PORT" -d "$DB" --workers="$SERVER_WORKERS" --db-filter="^$DB\$"
info "Scenarios ($ORDERS orders for 8 tills, $((ORDERS * 4)) for 32)"
till_py run --url "http://127.0.0.1:$PORT" --server-log "$SERVER_LOG" --orders "$ORDERS" --out "$OUT"
stop_bench_server
info "Results: $OUT (statement counts: $OUT.count)"
