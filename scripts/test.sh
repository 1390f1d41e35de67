#!/usr/bin/env bash
# Run the loyalty_club tests in a fresh throwaway database.
#
#   ./scripts/test.sh                               all tests of the addon
#   ./scripts/test.sh --tags /loyalty_club:TestX    a narrower --test-tags
#   ./scripts/test.sh --keep                        keep the test databases afterwards
#
# Two phases, each in its own throwaway database: "main" (the addon's depends) runs the
# tests the tags select; "native" (the same plus Odoo's Loyalty app, which auto-installs
# sale_loyalty and pos_loyalty) runs only the tests tagged loyalty_club_native (migration
# from Odoo's Loyalty; classes TestNative*), so that app never changes the main run.
# The native phase runs when the tags select the whole addon or a TestNative* class;
# LOYALTY_TEST_NATIVE=0 skips it.
# Without --tags, the scripts' own tests run first (scripts/tests/*.sh: finding or cloning Odoo;
# offline, seconds); a failure there fails the run too.
# With the whole addon selected, a last "demo" phase builds the demo database as
# ./scripts/run.sh --reset does and runs the demo smoke test on it (./scripts/run.sh --smoke,
# about 4 minutes; counted as one test); LOYALTY_TEST_DEMO=0 skips it.
# The last line printed is "N passed, N failed" (all phases). Exit status is non-zero when a
# test failed, Odoo logged an ERROR/CRITICAL line, Odoo exited non-zero, no
# test summary was found or no test ran. LOYALTY_TEST_TIMEOUT=SECONDS stops a hung run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
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

# Tests that need Odoo's own Loyalty app carry this tag (and "-standard", so that a plain
# --test-tags /loyalty_club never selects them); they run in the second database only.
NATIVE_TAG="${ADDON_NAME}_native"
NATIVE_TEMPLATE_DB="${ADDON_NAME}_native_tpl"
NATIVE_MODULES=loyalty

# split_tags: MAIN_TAGS and NATIVE_TAGS from TAGS (empty = phase not needed).
split_tags() {
    local spec sign rest tag target klass main=() native=() excludes=() wants_main=0 wants_native=0
    IFS=',' read -r -a specs <<<"$TAGS"
    for spec in "${specs[@]}"; do
        spec="${spec//[[:space:]]/}"
        [[ -n "$spec" ]] || continue
        if [[ "$spec" == -* ]]; then
            excludes+=("$spec")
            continue
        fi
        sign=""
        [[ "$spec" == +* ]] && sign="+" && spec="${spec#+}"
        if [[ "$spec" == */* ]]; then
            tag="${spec%%/*}"
            rest="/${spec#*/}"
        elif [[ "$spec" == :* || "$spec" == .* ]]; then
            tag=""
            rest="$spec"
        else
            tag="$spec"
            rest=""
        fi
        target="${rest%%.*}"
        klass=""
        [[ "$target" == *:* ]] && klass="${target#*:}"
        if [[ "$tag" == "$NATIVE_TAG" || "$klass" == TestNative* ]]; then
            native+=("$NATIVE_TAG${rest:-/$ADDON_NAME}")
            wants_native=1
        elif [[ -n "$klass" ]]; then
            main+=("$sign$spec")
            wants_main=1
        else
            main+=("$sign$spec")
            native+=("$NATIVE_TAG${rest:-/$ADDON_NAME}")
            wants_main=1
            wants_native=1
        fi
    done
    MAIN_TAGS=""
    NATIVE_TAGS=""
    if ((wants_main)); then
        MAIN_TAGS="$(IFS=,; printf '%s' "${main[*]}${excludes[*]:+,${excludes[*]}}")"
    fi
    if ((wants_native)) && [[ "${LOYALTY_TEST_NATIVE:-1}" != 0 ]]; then
        NATIVE_TAGS="$(IFS=,; printf '%s' "${native[*]}${excludes[*]:+,${excludes[*]}}")"
    fi
    if [[ -z "$MAIN_TAGS" && -z "$NATIVE_TAGS" ]]; then
        # nothing recognisable (or native skipped): let Odoo judge the tags in the main database
        MAIN_TAGS="$TAGS"
    fi
}
split_tags

PASSED=0
FAILED=0
REASONS=()
LOGS=()
ERROR_REPORT=""

# the scripts' own tests (seconds, offline), with the whole suite only
if [[ "$TAGS" == "/$ADDON_NAME" ]]; then
    for t in "$LIB_DIR"/tests/test_*.sh; do
        info "Running the scripts' test $t"
        bash "$t" || REASONS+=("the scripts' test $t failed")
    done
fi

setup_all
[[ -z "$MAIN_TAGS" ]] || ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
if [[ -n "$NATIVE_TAGS" ]]; then
    ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
    ensure_template "$NATIVE_TEMPLATE_DB" "$NATIVE_MODULES" 1 "$TEST_TEMPLATE_DB" 0
fi

STAMP="$(date +%Y%m%d-%H%M%S)"
TIMEOUT="${LOYALTY_TEST_TIMEOUT:-0}"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "LOYALTY_TEST_TIMEOUT must be a number of seconds, not '$TIMEOUT'"
if ((TIMEOUT > 0)); then
    # a hung test must not block CI forever: SIGTERM after TIMEOUT s, SIGKILL 30 s later
    # (--foreground: timeout stays in Odoo's process group, which odoo_run_logged stops at the end)
    ODOO_CMD=(timeout --foreground -k 30 "$TIMEOUT" "${ODOO_CMD[@]}")
fi

TEST_DB=""
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

# run_phase NAME TEMPLATE TAGS: run the tests TAGS in a fresh copy of TEMPLATE and add the
# verdict to PASSED, FAILED, REASONS.
run_phase() {
    local name="$1" template="$2" tags="$3" log rc=0 port
    TEST_DB="${ADDON_NAME}_test_${name}_${STAMP//-/_}_$$"
    log="$LOG_DIR/test-$STAMP-$$-$name.log"
    LOGS+=("$log")
    clone_db "$template" "$TEST_DB"
    DB_CREATED=1
    port="$(free_port "${LOYALTY_TEST_HTTP_PORT:-8169}")" || die "no free TCP port found from ${LOYALTY_TEST_HTTP_PORT:-8169} on"
    info "[$name] Running tests '$tags' in database $TEST_DB (http port $port); full log: $log"
    odoo_run_logged "$log" -d "$TEST_DB" -i "$ADDON_NAME" --test-tags "$tags" \
        --stop-after-init --log-level=test --http-port="$port" --http-interface=127.0.0.1 \
        --workers=0 --max-cron-threads=0 || rc=$?
    cleanup

    # ---- verdict, from Odoo's own summary line:
    #   ... odoo.tests.result: 0 failed, 0 error(s) of 53 tests when loading database 'x'
    local clean_log summary level_re benign_re n_benign error_lines n_error_lines=0
    local summary_re='odoo\.tests\.result: ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests'
    clean_log="$(sed 's/\x1b\[[0-9;]*m//g' "$log")"
    summary="$(grep -E "$summary_re" <<<"$clean_log" | tail -n1 || true)"
    level_re='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ [0-9]+ (ERROR|CRITICAL) '
    # Headless Chromium preconnects sockets it may never use; Odoo's test HTTP server closes them
    # after 5 s and Python's http.server logs that at ERROR level ("Request timed out"), more often
    # on a loaded machine. It says nothing about the code under test, so it is counted apart.
    benign_re="werkzeug: .*Request timed out: TimeoutError\\('timed out'\\)"
    n_benign="$(grep -E "$level_re" <<<"$clean_log" | grep -cE "$benign_re" || true)"
    error_lines="$(grep -E "$level_re" <<<"$clean_log" | grep -vE "$benign_re" || true)"
    ((n_benign == 0)) || info "[$name] ignored $n_benign 'Request timed out' line(s) of the test HTTP server (browser preconnects)"
    [[ -z "$error_lines" ]] || n_error_lines="$(wc -l <<<"$error_lines")"

    local failed total passed
    if [[ "$summary" =~ $summary_re ]]; then
        failed=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
        total=${BASH_REMATCH[3]}
        passed=$((total - failed))
        ((passed >= 0)) || passed=0
        PASSED=$((PASSED + passed))
        FAILED=$((FAILED + failed))
        ((failed == 0)) || REASONS+=("[$name] $failed test(s) failed or raised errors")
        ((total > 0)) || REASONS+=("[$name] no test ran (test tags: $tags)")
    else
        REASONS+=("[$name] Odoo's test summary line (odoo.tests.result: ... tests) is missing from the log")
    fi
    if ((TIMEOUT > 0 && (rc == 124 || rc == 137))); then
        REASONS+=("[$name] Odoo was stopped after LOYALTY_TEST_TIMEOUT=${TIMEOUT}s (exit status $rc)")
    elif ((rc != 0)); then
        REASONS+=("[$name] Odoo exited with status $rc")
    fi
    if ((n_error_lines)); then
        REASONS+=("[$name] $n_error_lines ERROR/CRITICAL line(s) in the log")
        ERROR_REPORT+="--- [$name] ERROR/CRITICAL lines (first 20):"$'\n'"$(head -n 20 <<<"$error_lines" | cut -c1-300)"$'\n'
    fi
}

# run_demo_phase: ./scripts/run.sh --reset --smoke on a throwaway demo database; one test.
run_demo_phase() {
    local db="${ADDON_NAME}_test_demo_${STAMP//-/_}_$$" log="$LOG_DIR/test-$STAMP-$$-demo.log"
    LOGS+=("$log")
    info "[demo] Building the demo database $db and running the demo smoke test; full log: $log"
    # run.sh finds Odoo again itself (lib.sh skips the search when ODOO_DIR is in the environment)
    if env -u ODOO_DIR LOYALTY_DEMO_DB="$db" LOYALTY_HTTP_PORT="${LOYALTY_TEST_HTTP_PORT:-8169}" \
        "$LIB_DIR/run.sh" --reset --smoke >"$log" 2>&1; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        REASONS+=("[demo] the demo smoke test failed")
        ERROR_REPORT+="--- [demo] last lines of $log:"$'\n'"$(tail -n 20 "$log" | cut -c1-300)"$'\n'
    fi
    if ((KEEP)); then
        info "Keeping database $db"
    else
        drop_db "$db" >/dev/null 2>&1 || warn "could not drop $db"
    fi
}

[[ -z "$MAIN_TAGS" ]] || run_phase main "$TEST_TEMPLATE_DB" "$MAIN_TAGS"
[[ -z "$NATIVE_TAGS" ]] || run_phase native "$NATIVE_TEMPLATE_DB" "$NATIVE_TAGS"
if [[ "$TAGS" == "/$ADDON_NAME" && "${LOYALTY_TEST_DEMO:-1}" != 0 ]]; then
    run_demo_phase
fi

echo
for r in "${REASONS[@]}"; do printf 'FAILED: %s\n' "$r" >&2; done
[[ -z "$ERROR_REPORT" ]] || printf '%s' "$ERROR_REPORT" >&2
for log in "${LOGS[@]}"; do printf 'Full log: %s\n' "$log" >&2; done
echo "$PASSED passed, $FAILED failed"
if ((${#REASONS[@]})); then
    exit 1
fi
