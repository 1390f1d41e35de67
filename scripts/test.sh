#!/usr/bin/env bash
# Run the loyalty_club tests in a fresh throwaway database.
#
#   ./scripts/test.sh                               all tests of the addon
#   ./scripts/test.sh --tags /loyalty_club:TestX    a narrower --test-tags
#   ./scripts/test.sh --keep                        keep the test database afterwards
#
# The last line printed is "N passed, N failed". Exit status is non-zero when a
# test failed, Odoo logged an ERROR/CRITICAL line, Odoo exited non-zero, no
# test summary was found or no test ran. LOYALTY_TEST_TIMEOUT=SECONDS stops a hung run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

TAGS="/$ADDON_NAME"
KEEP=0
while (($#)); do
    case "$1" in
    --tags)
        [[ $# -ge 2 && -n "$2" ]] || die "--tags needs a value, e.g. --tags /$ADDON_NAME:TestLedger"
        TAGS="$2"
        shift 2
        ;;
    --tags=*)
        TAGS="${1#--tags=}"
        shift
        ;;
    --keep)
        KEEP=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument '$1' (see ./scripts/test.sh --help)" ;;
    esac
done

setup_all
ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1

STAMP="$(date +%Y%m%d-%H%M%S)"
TEST_DB="${ADDON_NAME}_test_${STAMP//-/_}_$$"
LOG="$LOG_DIR/test-$STAMP-$$.log"
DB_CREATED=0

cleanup() {
    ((DB_CREATED)) || return 0
    DB_CREATED=0
    if ((KEEP)); then
        info "Keeping database $TEST_DB (drop it with: PGHOST=$PGHOST PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-$(id -un)} $PG_BINDIR/dropdb $TEST_DB)"
    else
        drop_db "$TEST_DB" >/dev/null 2>&1 || warn "could not drop $TEST_DB"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

clone_db "$TEST_TEMPLATE_DB" "$TEST_DB"
DB_CREATED=1
PORT="$(free_port "${LOYALTY_TEST_HTTP_PORT:-8169}")" || die "no free TCP port found from ${LOYALTY_TEST_HTTP_PORT:-8169} on"
TIMEOUT="${LOYALTY_TEST_TIMEOUT:-0}"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "LOYALTY_TEST_TIMEOUT must be a number of seconds, not '$TIMEOUT'"
if ((TIMEOUT > 0)); then
    # a hung test must not block CI forever: SIGTERM after TIMEOUT s, SIGKILL 30 s later
    ODOO_CMD=(timeout -k 30 "$TIMEOUT" "${ODOO_CMD[@]}")
fi

info "Running tests '$TAGS' in database $TEST_DB (http port $PORT); full log: $LOG"
RC=0
odoo_run_logged "$LOG" -d "$TEST_DB" -i "$ADDON_NAME" --test-tags "$TAGS" \
    --stop-after-init --log-level=test --http-port="$PORT" --http-interface=127.0.0.1 \
    --workers=0 --max-cron-threads=0 || RC=$?
cleanup

# ---- verdict, from Odoo's own summary line:
#   ... odoo.tests.result: 0 failed, 0 error(s) of 53 tests when loading database 'x'
CLEAN_LOG="$(sed 's/\x1b\[[0-9;]*m//g' "$LOG")"
SUMMARY_RE='odoo\.tests\.result: ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests'
SUMMARY="$(grep -E "$SUMMARY_RE" <<<"$CLEAN_LOG" | tail -n1 || true)"
LEVEL_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ [0-9]+ (ERROR|CRITICAL) '
# Headless Chromium preconnects sockets it may never use; Odoo's test HTTP server closes them
# after 5 s and Python's http.server logs that at ERROR level ("Request timed out"), more often
# on a loaded machine. It says nothing about the code under test, so it is counted apart.
BENIGN_RE="werkzeug: .*Request timed out: TimeoutError\\('timed out'\\)"
N_BENIGN="$(grep -E "$LEVEL_RE" <<<"$CLEAN_LOG" | grep -cE "$BENIGN_RE" || true)"
ERROR_LINES="$(grep -E "$LEVEL_RE" <<<"$CLEAN_LOG" | grep -vE "$BENIGN_RE" || true)"
((N_BENIGN == 0)) || info "ignored $N_BENIGN 'Request timed out' line(s) of the test HTTP server (browser preconnects)"
N_ERROR_LINES=0
[[ -z "$ERROR_LINES" ]] || N_ERROR_LINES="$(wc -l <<<"$ERROR_LINES")"

PASSED=0
FAILED=0
TOTAL=0
REASONS=()
if [[ "$SUMMARY" =~ $SUMMARY_RE ]]; then
    FAILED=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
    TOTAL=${BASH_REMATCH[3]}
    PASSED=$((TOTAL - FAILED))
    ((PASSED >= 0)) || PASSED=0
    ((FAILED == 0)) || REASONS+=("$FAILED test(s) failed or raised errors")
    ((TOTAL > 0)) || REASONS+=("no test ran (test tags: $TAGS)")
else
    REASONS+=("Odoo's test summary line (odoo.tests.result: ... tests) is missing from the log")
fi
if ((TIMEOUT > 0 && (RC == 124 || RC == 137))); then
    REASONS+=("Odoo was stopped after LOYALTY_TEST_TIMEOUT=${TIMEOUT}s (exit status $RC)")
elif ((RC != 0)); then
    REASONS+=("Odoo exited with status $RC")
fi
((N_ERROR_LINES == 0)) || REASONS+=("$N_ERROR_LINES ERROR/CRITICAL line(s) in the log")

echo
for r in "${REASONS[@]}"; do printf 'FAILED: %s\n' "$r" >&2; done
if ((N_ERROR_LINES)); then
    printf '%s\n' "--- ERROR/CRITICAL lines (first 20):" >&2
    head -n 20 <<<"$ERROR_LINES" | cut -c1-300 >&2
fi
printf 'Full log: %s\n' "$LOG" >&2
echo "$PASSED passed, $FAILED failed"
if ((${#REASONS[@]})); then
    exit 1
fi
