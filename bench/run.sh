#!/usr/bin/env bash
# Chain-scale benchmark of loyalty_club, side by side with Odoo's native loyalty.
#
#   ./bench/run.sh                              N=100,000 members, 10 ledger entries each
#   ./bench/run.sh --members 4000000 --entries-per-member 2 --native-members 100000
#   ./bench/run.sh --workers                    also measure over JSON-RPC against odoo-bin --workers=2
#
# Options:
#   --members N               members (partners + cards) to bulk-load (default 100000)
#   --entries-per-member K    ledger entries per member (default 10)
#   --big-card-entries M      entries on the one "heavy" card used for the query counts (default 1000000)
#   --native-members P        members loaded in the native database (default N; per-order costs
#                             do not depend on it, so a 4M run can save time here)
#   --iterations I            measured calls per scenario, after warm-up (default 30)
#   --workers                 also run the RPC scenarios against odoo-bin --workers=2 (JSON-RPC)
#   --port PORT               first HTTP port tried for --workers (default $LOYALTY_BENCH_HTTP_PORT or 8643)
#   --engagement-members E    members of the birthday / expiring-points cron run (default 10000,
#                             compared with a run at 1,000; 0 skips it)
#   --import-rows R           rows of the member import check + import (default 100000, 0 skips it)
#   --skip-load               reuse the databases of the previous run (measure only, no crons)
#   --skip-inprocess          with --skip-load: keep the in-process results of the previous run
#   --crons-first             run the scheduled jobs right after the load (long runs)
#   --out DIR                 where RESULTS.md / results.csv go (default bench/results)
#
# Databases: loyalty_club_bench (loyalty_club) and loyalty_club_bench_native (sale_loyalty,
# pos_loyalty), both without demo data, copied from two templates that share one base template
# (the addon's dependencies, built once); the loyalty_club template is rebuilt when the addon's
# files change. Logs go to .local/logs/bench-*.log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

MEMBERS=100000
ENTRIES=10
BIG=1000000
NATIVE_MEMBERS=""
ITERATIONS=30
WORKERS=0
SKIP_LOAD=0
SKIP_INPROCESS=0
CRONS_FIRST=0
PORT_FROM="${LOYALTY_BENCH_HTTP_PORT:-8643}"
ENGAGEMENT=10000
IMPORT_ROWS=100000
OUT="$REPO_ROOT/bench/results"
while (($#)); do
    case "$1" in
    --members) MEMBERS="$2"; shift 2 ;;
    --entries-per-member) ENTRIES="$2"; shift 2 ;;
    --big-card-entries) BIG="$2"; shift 2 ;;
    --native-members) NATIVE_MEMBERS="$2"; shift 2 ;;
    --iterations) ITERATIONS="$2"; shift 2 ;;
    --workers) WORKERS=1; shift ;;
    --port) PORT_FROM="$2"; shift 2 ;;
    --engagement-members) ENGAGEMENT="$2"; shift 2 ;;
    --import-rows) IMPORT_ROWS="$2"; shift 2 ;;
    --skip-load) SKIP_LOAD=1; shift ;;
    --skip-inprocess) SKIP_INPROCESS=1; shift ;;
    --crons-first) CRONS_FIRST=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h | --help) sed -n '2,29s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see ./bench/run.sh --help)" ;;
    esac
done
NATIVE_MEMBERS="${NATIVE_MEMBERS:-$MEMBERS}"
for value in "$MEMBERS" "$ENTRIES" "$BIG" "$ITERATIONS" "$NATIVE_MEMBERS" "$PORT_FROM" "$ENGAGEMENT"; do
    [[ "$value" =~ ^[0-9]+$ ]] || die "numbers only: '$value'"
done
((MEMBERS >= 1000)) || die "--members must be at least 1000 (the session load compares 1,000 and N members)"
((ENTRIES >= 2)) || die "--entries-per-member must be at least 2"
((NATIVE_MEMBERS >= 1000 && NATIVE_MEMBERS <= MEMBERS)) || die "--native-members must be between 1000 and --members"
((ENGAGEMENT == 0 || (ENGAGEMENT >= 1000 && ENGAGEMENT + 1000 <= MEMBERS))) ||
    die "--engagement-members must be 0 or between 1000 and --members minus 1000"

BENCH_DB=loyalty_club_bench
NATIVE_DB=loyalty_club_bench_native
BASE_TPL=loyalty_club_bench_base_tpl
BENCH_TPL=loyalty_club_bench_tpl
NATIVE_TPL=loyalty_club_bench_native_tpl
NATIVE_MODULES="sale_loyalty,pos_loyalty"
STAMP="$(date +%Y%m%d-%H%M%S)"
START=$SECONDS

setup_all
mkdir -p "$OUT"
LOG="$LOG_DIR/bench-$STAMP.log"
info "Benchmark log: $LOG"
RAW="$LOCAL_DIR/bench/n$MEMBERS"
mkdir -p "$RAW"
# bench.py in Odoo's Python, with the options the scripts give odoo-bin (config, addons path, database)
bench_py() {
    nice -n 10 "$VENV_PY" "$REPO_ROOT/bench/bench.py" --odoo-dir "$ODOO_DIR" --log "$LOG" --raw "$RAW" \
        "$@" -- "${ODOO_ARGS[@]}"
}


if ((!SKIP_LOAD)); then
    # One base template with the addon's dependencies (sale, POS, portal, SMS...), no demo data
    # and no pre-generated assets (nothing here runs a browser); the two benchmark templates are
    # copies of it with only loyalty_club, or only the native sale_loyalty/pos_loyalty, installed
    # on top, in parallel. The installs' output goes to the template logs.
    TPL_START=$SECONDS
    ensure_template "$BASE_TPL" "$(addon_depends)" 0 "" 0 >/dev/null
    ensure_template "$BENCH_TPL" "$ADDON_NAME" 0 "$BASE_TPL" 0 "$(addon_hash)" >/dev/null &
    tpl_pid=$!
    ensure_template "$NATIVE_TPL" "$NATIVE_MODULES" 0 "$BASE_TPL" 0 >/dev/null
    wait "$tpl_pid" || die "building $BENCH_TPL failed"
    TPL_SECONDS=$((SECONDS - TPL_START))
    for db in "$BENCH_DB" "$NATIVE_DB"; do drop_db "$db"; done
    clone_db "$BENCH_TPL" "$BENCH_DB"
    clone_db "$NATIVE_TPL" "$NATIVE_DB"
    info "Setting up and bulk-loading $MEMBERS members x $ENTRIES entries (+ one card with $BIG entries)"
    bench_py load --db "$BENCH_DB" --native-db "$NATIVE_DB" \
        --members "$MEMBERS" --entries-per-member "$ENTRIES" --big-card-entries "$BIG" \
        --native-members "$NATIVE_MEMBERS" --template-seconds "$TPL_SECONDS"
else
    if ! db_exists "$BENCH_DB" || ! db_exists "$NATIVE_DB"; then
        die "--skip-load: run without it first"
    fi
fi

run_crons() {
    # only on freshly loaded data (a second run would find nothing due)
    ((!SKIP_LOAD)) || return 0
    info "Crons over all $MEMBERS members (committed batches)"
    bench_py crons --db "$BENCH_DB"
    if ((ENGAGEMENT)); then
        info "Birthday and expiring-points crons over 1,000 and $ENGAGEMENT members (memory, ORM cache)"
        bench_py engagement --db "$BENCH_DB" --members "$ENGAGEMENT"
    fi
    info "Liability report over the whole ledger (ORM read, pivot read_group, as-of date; plans)"
    bench_py liability --db "$BENCH_DB"
    if ((IMPORT_ROWS)); then
        info "Member import: check and import of $IMPORT_ROWS CSV rows (rolled back)"
        bench_py import --db "$BENCH_DB" --rows "$IMPORT_ROWS" --no-tracemalloc
    fi
}
# --crons-first: the jobs' numbers first on long runs; the orders then run on cards whose tiers
# the evaluation changed, so the 10 vs 10^6 entries comparison is made after the crons
((!CRONS_FIRST)) || run_crons

if ((!SKIP_INPROCESS)); then
    info "Measuring in-process (Odoo registry, one transaction per call, rolled back)"
    bench_py measure --db "$BENCH_DB" --native-db "$NATIVE_DB" --iterations "$ITERATIONS" \
        --big-card-entries "$BIG" --mode inprocess
fi

if ((WORKERS)); then
    PORT="$(free_port "$PORT_FROM")" || die "no free TCP port from $PORT_FROM on (--port)"
    WLOG="$LOG_DIR/bench-server-$STAMP.log"
    info "Starting odoo-bin --workers=2 on port $PORT (log $WLOG)"
    start_bench_server "$WLOG" "$PORT" --workers=2 --db-filter='^loyalty_club_bench(_native)?$'
    bench_py measure --db "$BENCH_DB" --native-db "$NATIVE_DB" --iterations "$ITERATIONS" \
        --big-card-entries "$BIG" --mode rpc --url "http://127.0.0.1:$PORT"
    stop_bench_server
fi

((CRONS_FIRST)) || run_crons
bench_py report --out "$OUT" --members "$MEMBERS" --entries-per-member "$ENTRIES" \
    --big-card-entries "$BIG" --elapsed "$((SECONDS - START))"
info "Done in $(((SECONDS - START) / 60)) min $(((SECONDS - START) % 60)) s: $OUT/RESULTS.md"
