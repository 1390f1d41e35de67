#!/usr/bin/env bash
# Run the tests of every addon of the repository in fresh throwaway databases.
#
#   ./scripts/test.sh                               all tests of every addon
#   ./scripts/test.sh --tags /loyalty_club:TestX    a narrower --test-tags
#   ./scripts/test.sh --tags /loyalty_club_website_sale    the tests of one bridge addon
#   ./scripts/test.sh --keep                        keep the test databases afterwards
#   ./scripts/test.sh --dry-run                     print the phases the tags select, run nothing
#
# Phases, each in its own throwaway database: "main" (loyalty_club's depends) runs the
# tests the tags select; "native" (the same plus Odoo's Loyalty app, which auto-installs
# sale_loyalty and pos_loyalty) runs only the tests tagged loyalty_club_native (migration
# from Odoo's Loyalty; classes TestNative*), so that app never changes the main run.
# The native phase runs when the tags select the whole addon or a TestNative* class;
# LOYALTY_TEST_NATIVE=0 skips it.
# Every other addon of the repository (a folder with a __manifest__.py: the bridge
# loyalty_club_website_sale) has a phase of its own, "website": the Odoo modules of its
# depends (website_sale, plus payment_demo) on top of the main template, the addon installed,
# its tests run. It runs with the whole suite or when the tags name the addon
# (/loyalty_club_website_sale[:TestX]); LOYALTY_TEST_WEBSITE=0 skips it.
# Without --tags, the scripts' own tests run first (scripts/tests/*.sh: finding or cloning Odoo,
# the Odoo runner; offline, seconds); a failure there fails the run too.
# With the whole suite, a last "demo" phase builds the demo database as
# ./scripts/run.sh --reset does and runs the demo smoke test on it (./scripts/run.sh --smoke,
# about 4 minutes; counted as one test); LOYALTY_TEST_DEMO=0 skips it.
# The last line printed is "N passed, N failed" (all phases). Exit status is non-zero when a
# test failed, Odoo logged an ERROR/CRITICAL line, Odoo exited non-zero, no
# test summary was found or no test ran. LOYALTY_TEST_TIMEOUT=SECONDS stops a hung run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    # the comment lines at the top, up to "set -euo pipefail"
    sed -n '2,/^set /s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

TAGS="/$ADDON_NAME"
KEEP=0
DRY_RUN=0
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
    --dry-run)
        DRY_RUN=1
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

# The other addons of the repository (bridges: loyalty_club_website_sale), each tested in a phase
# of its own, in a copy of its own template (scripts/lib.sh: BRIDGE_PHASE, TEMPLATE_EXTRA).
find_python
ALL_ADDONS="$(repo_addons)"
BRIDGES="$(grep -vxF "$ADDON_NAME" <<<"$ALL_ADDONS" || true)"
declare -A IS_BRIDGE=()
declare -A PHASE_OF=()
for b in $BRIDGES; do
    IS_BRIDGE[$b]=1
    PHASE_OF[$b]="$(bridge_phase "$b")"
done

# split_tags: MAIN_TAGS, NATIVE_TAGS and BRIDGE_TAGS[addon] from TAGS (empty = phase not needed).
split_tags() {
    local spec sign rest tag target klass module b skip_var main=() native=() excludes=() wants_main=0 wants_native=0
    local -A bridge=()
    local skipped=()
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
        module=""
        [[ "$target" == /* ]] && module="${target#/}" && module="${module%%:*}"
        if [[ -n "$module" && -n "${IS_BRIDGE[$module]:-}" ]]; then
            bridge[$module]+=",$sign$spec"
        elif [[ "$tag" == "$NATIVE_TAG" || "$klass" == TestNative* ]]; then
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
    if [[ "$TAGS" == "/$ADDON_NAME" ]]; then
        # the whole suite: every addon
        for b in $BRIDGES; do bridge[$b]=",/$b"; done
    fi
    MAIN_TAGS=""
    NATIVE_TAGS=""
    BRIDGE_TAGS=()
    if ((wants_main)); then
        MAIN_TAGS="$(IFS=,; printf '%s' "${main[*]}${excludes[*]:+,${excludes[*]}}")"
    fi
    if ((wants_native)) && [[ "${LOYALTY_TEST_NATIVE:-1}" != 0 ]]; then
        NATIVE_TAGS="$(IFS=,; printf '%s' "${native[*]}${excludes[*]:+,${excludes[*]}}")"
    fi
    for b in "${!bridge[@]}"; do
        skip_var="LOYALTY_TEST_${PHASE_OF[$b]^^}"
        if [[ "${!skip_var:-1}" == 0 ]]; then
            skipped+=("${PHASE_OF[$b]} ($skip_var=0)")
            continue
        fi
        BRIDGE_TAGS[$b]="$(IFS=,; printf '%s' "${bridge[$b]#,}${excludes[*]:+,${excludes[*]}}")"
    done
    if [[ -z "$MAIN_TAGS" && -z "$NATIVE_TAGS" && ${#BRIDGE_TAGS[@]} == 0 ]]; then
        ((${#skipped[@]} == 0)) ||
            die "nothing to run: the tags '$TAGS' select only the phase(s) ${skipped[*]}"
        # nothing recognisable (or native skipped): let Odoo judge the tags in the main database
        MAIN_TAGS="$TAGS"
    fi
}
declare -A BRIDGE_TAGS=()
split_tags

# the template of each bridge phase to run, and the modules it adds to the main one
declare -A BRIDGE_TEMPLATE=()
declare -A BRIDGE_MODULES=()
for b in $BRIDGES; do
    [[ -n "${BRIDGE_TAGS[$b]:-}" ]] || continue
    BRIDGE_MODULES[$b]="$(bridge_template_modules "$b")"
    BRIDGE_TEMPLATE[$b]="$(bridge_template "$b")"
done
RUN_SCRIPT_TESTS=0
RUN_DEMO=0
if [[ "$TAGS" == "/$ADDON_NAME" ]]; then
    RUN_SCRIPT_TESTS=1
    [[ "${LOYALTY_TEST_DEMO:-1}" == 0 ]] || RUN_DEMO=1
fi

if ((DRY_RUN)); then
    ((RUN_SCRIPT_TESTS == 0)) || echo "scripts' own tests: $(cd "$LIB_DIR" && printf '%s ' tests/test_*.sh)"
    [[ -z "$MAIN_TAGS" ]] ||
        echo "phase main: template $TEST_TEMPLATE_DB ($(addon_depends)); -i $ADDON_NAME --test-tags $MAIN_TAGS"
    [[ -z "$NATIVE_TAGS" ]] ||
        echo "phase native: template $NATIVE_TEMPLATE_DB ($NATIVE_MODULES on $TEST_TEMPLATE_DB); -i $ADDON_NAME --test-tags $NATIVE_TAGS"
    for b in $BRIDGES; do
        [[ -n "${BRIDGE_TAGS[$b]:-}" ]] || continue
        echo "phase ${PHASE_OF[$b]}: template ${BRIDGE_TEMPLATE[$b]} (${BRIDGE_MODULES[$b]:-$(addon_depends)}${BRIDGE_MODULES[$b]:+ on $TEST_TEMPLATE_DB}); -i $b --test-tags ${BRIDGE_TAGS[$b]}"
    done
    ((RUN_DEMO == 0)) || echo "phase demo: ./scripts/run.sh --reset --smoke"
    exit 0
fi

PASSED=0
FAILED=0
REASONS=()
LOGS=()
ERROR_REPORT=""

# the scripts' own tests (seconds, offline), with the whole suite only
if ((RUN_SCRIPT_TESTS)); then
    for t in "$LIB_DIR"/tests/test_*.sh; do
        info "Running the scripts' test $t"
        bash "$t" || REASONS+=("the scripts' test $t failed")
    done
fi

setup_all
# every phase starts from the main template or from a template built on top of it; those are
# rebuilt whenever it is (ensure_template: FROM's stamp is part of theirs)
ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1
[[ -z "$NATIVE_TAGS" ]] || ensure_template "$NATIVE_TEMPLATE_DB" "$NATIVE_MODULES" 1 "$TEST_TEMPLATE_DB" 0
for b in $BRIDGES; do
    [[ -z "${BRIDGE_TAGS[$b]:-}" ]] || ensure_bridge_template "$b"
done

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

# run_phase NAME TEMPLATE MODULE TAGS: install MODULE in a fresh copy of TEMPLATE, run the tests
# TAGS and add the verdict to PASSED, FAILED, REASONS.
run_phase() {
    local name="$1" template="$2" module="$3" tags="$4" log rc=0 port
    TEST_DB="${ADDON_NAME}_test_${name}_${STAMP//-/_}_$$"
    log="$LOG_DIR/test-$STAMP-$$-$name.log"
    LOGS+=("$log")
    clone_db "$template" "$TEST_DB"
    DB_CREATED=1
    port="$(free_port "${LOYALTY_TEST_HTTP_PORT:-8169}")" || die "no free TCP port found from ${LOYALTY_TEST_HTTP_PORT:-8169} on"
    info "[$name] Running tests '$tags' in database $TEST_DB (http port $port); full log: $log"
    odoo_run_logged "$log" -d "$TEST_DB" -i "$module" --test-tags "$tags" \
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

[[ -z "$MAIN_TAGS" ]] || run_phase main "$TEST_TEMPLATE_DB" "$ADDON_NAME" "$MAIN_TAGS"
[[ -z "$NATIVE_TAGS" ]] || run_phase native "$NATIVE_TEMPLATE_DB" "$ADDON_NAME" "$NATIVE_TAGS"
for b in $BRIDGES; do
    [[ -z "${BRIDGE_TAGS[$b]:-}" ]] || run_phase "${PHASE_OF[$b]}" "${BRIDGE_TEMPLATE[$b]}" "$b" "${BRIDGE_TAGS[$b]}"
done
((RUN_DEMO == 0)) || run_demo_phase

echo
for r in "${REASONS[@]}"; do printf 'FAILED: %s\n' "$r" >&2; done
[[ -z "$ERROR_REPORT" ]] || printf '%s' "$ERROR_REPORT" >&2
for log in "${LOGS[@]}"; do printf 'Full log: %s\n' "$log" >&2; done
echo "$PASSED passed, $FAILED failed"
if ((${#REASONS[@]})); then
    exit 1
fi
