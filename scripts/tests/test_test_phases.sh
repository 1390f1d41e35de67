#!/usr/bin/env bash
# Tests of the phases ./scripts/test.sh chooses (./scripts/test.sh --dry-run): every addon of the
# repository is tested (loyalty_club in the main and native phases, each other addon in a phase
# of its own on a template with the Odoo modules of its depends); --tags sends each test tag to
# the phase of the addon it names; LOYALTY_TEST_<PHASE>=0 skips a phase.
#
#   bash scripts/tests/test_test_phases.sh   prints "scripts: N passed, N failed"; exit 1 on a failure
#
# Offline, in seconds: the addons are manifests in a temporary folder (LOYALTY_ADDON_DIR), and
# --dry-run stops before anything is set up. ./scripts/test.sh runs it before the Odoo tests.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEST_SH="$(cd "$HERE/.." && pwd)/test.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loyalty_test_phases.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=scripts/tests/harness.sh
source "$HERE/harness.sh"

show_last_output() {
    echo "--- output of the last test.sh --dry-run:"
    sed 's/^/    /' "$WORK/out" "$WORK/err" | head -n 30
}

# has_line LINE: the output has exactly this line
has_line() { grep -qxF -- "$1" "$WORK/out"; }
# no_phase NAME: the output has no phase NAME
no_phase() { ! grep -q "^phase $1:" "$WORK/out"; }


# addon DIR NAME DEPENDS [EXTRA]: a manifest for NAME in DIR
addon() {
    mkdir -p "$1/$2"
    printf '{"name": "%s", "version": "18.0.1.0.0", "depends": [%s]%s}\n' "$2" "$3" "${4:-}" >"$1/$2/__manifest__.py"
}

# dry_run DIR [VAR=VALUE...] -- ARGS...: test.sh --dry-run ARGS with the addons of DIR
dry_run() {
    local dir="$1" envs=()
    shift
    while (($#)) && [[ "$1" != -- ]]; do
        envs+=("$1")
        shift
    done
    shift
    # the switches of the environment test.sh runs in do not count
    env -u LOYALTY_TEST_NATIVE -u LOYALTY_TEST_WEBSITE -u LOYALTY_TEST_HR -u LOYALTY_TEST_DEMO \
        "${envs[@]}" LOYALTY_ADDON_DIR="$dir" bash "$TEST_SH" --dry-run "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
    RC=$?
}

# the repository today: loyalty_club and its bridge to the web shop
REPO="$WORK/repo"
addon "$REPO" loyalty_club '"mail", "sale_management", "point_of_sale"'
addon "$REPO" loyalty_club_website_sale '"loyalty_club", "website_sale"' ', "auto_install": True'
mkdir -p "$REPO/bench" "$REPO/docs"

MAIN="phase main: template loyalty_club_test_tpl (mail,sale_management,point_of_sale); -i loyalty_club --test-tags"
NATIVE="phase native: template loyalty_club_native_tpl (loyalty on loyalty_club_test_tpl); -i loyalty_club --test-tags"
WEBSITE="phase website: template loyalty_club_website_tpl (website_sale,payment_demo on loyalty_club_test_tpl); -i loyalty_club_website_sale --test-tags"

# --------------------------------------------------------------------------
# cases

start_case "the whole suite: main, native, website (website_sale and payment_demo) and demo"
dry_run "$REPO" --
check "exit status 0 (got $RC)" test "$RC" = 0
check "the scripts' own tests run" grep -q "^scripts' own tests: .*tests/test_test_phases.sh" "$WORK/out"
check "main runs loyalty_club's tests" has_line "$MAIN /loyalty_club"
check "native runs the native tests" has_line "$NATIVE loyalty_club_native/loyalty_club"
check "website installs the bridge on website_sale + payment_demo and runs its tests" \
    has_line "$WEBSITE /loyalty_club_website_sale"
check "demo runs" has_line "phase demo: ./scripts/run.sh --reset --smoke"
check "the main phase does not install the bridge" test "$(grep -c '^phase main: .*website' "$WORK/out")" = 0
end_case

start_case "--tags /loyalty_club_website_sale: the website phase only"
dry_run "$REPO" -- --tags /loyalty_club_website_sale
check "exit status 0 (got $RC)" test "$RC" = 0
check "website runs the bridge's tests" has_line "$WEBSITE /loyalty_club_website_sale"
check "no main phase" no_phase main
check "no native phase" no_phase native
check "no demo phase" no_phase demo
check "no scripts' tests" test "$(grep -c "^scripts' own tests" "$WORK/out")" = 0
end_case

start_case "--tags /loyalty_club_website_sale:TestCheckout.test_pay: that test, in the website phase"
dry_run "$REPO" -- --tags /loyalty_club_website_sale:TestCheckout.test_pay
check "website runs that test" has_line "$WEBSITE /loyalty_club_website_sale:TestCheckout.test_pay"
check "no main phase" no_phase main
end_case

start_case "--tags /loyalty_club:TestLedger: the main phase only"
dry_run "$REPO" -- --tags /loyalty_club:TestLedger
check "main runs TestLedger" has_line "$MAIN /loyalty_club:TestLedger"
check "no website phase" no_phase website
check "no native phase" no_phase native
end_case

start_case "a tag of each addon and an exclusion: each tag to its phase, the exclusion to both"
dry_run "$REPO" -- --tags "/loyalty_club:TestA, /loyalty_club_website_sale:TestB,-/loyalty_club:TestSlow"
check "main runs TestA" has_line "$MAIN /loyalty_club:TestA,-/loyalty_club:TestSlow"
check "website runs TestB" has_line "$WEBSITE /loyalty_club_website_sale:TestB,-/loyalty_club:TestSlow"
end_case

start_case "LOYALTY_TEST_WEBSITE=0 skips the website phase of the whole suite"
dry_run "$REPO" LOYALTY_TEST_WEBSITE=0 --
check "exit status 0 (got $RC)" test "$RC" = 0
check "no website phase" no_phase website
check "main runs" has_line "$MAIN /loyalty_club"
end_case

start_case "LOYALTY_TEST_WEBSITE=0 with --tags naming only the bridge: stops, saying why"
dry_run "$REPO" LOYALTY_TEST_WEBSITE=0 -- --tags /loyalty_club_website_sale
check "exit status non-zero" test "$RC" != 0
check "the message names the switch" contains "$WORK/err" "select only the phase(s) website (LOYALTY_TEST_WEBSITE=0)"
end_case

start_case "another addon: a phase named after it, its template with the Odoo modules of its depends"
R2="$WORK/repo2"
addon "$R2" loyalty_club '"mail"'
addon "$R2" loyalty_club_website_sale '"loyalty_club", "website_sale"'
addon "$R2" loyalty_club_hr '"loyalty_club_website_sale", "hr", "loyalty_club"'
addon "$R2" loyalty_club_old '"loyalty_club"' ', "installable": False'
dry_run "$R2" --
check "exit status 0 (got $RC)" test "$RC" = 0
check "phase hr: hr only (the repository's addons come with -i)" \
    has_line "phase hr: template loyalty_club_hr_tpl (hr on loyalty_club_test_tpl); -i loyalty_club_hr --test-tags /loyalty_club_hr"
check "the website phase is still there" grep -q "^phase website: .* -i loyalty_club_website_sale " "$WORK/out"
check "a non-installable addon has no phase" no_phase old
dry_run "$R2" LOYALTY_TEST_HR=0 --
check "LOYALTY_TEST_HR=0 skips it" no_phase hr
end_case

start_case "a repository with loyalty_club alone: main, native and demo, as before"
R3="$WORK/repo3"
addon "$R3" loyalty_club '"mail"'
dry_run "$R3" --
check "exit status 0 (got $RC)" test "$RC" = 0
check "main runs" grep -q "^phase main: .* --test-tags /loyalty_club$" "$WORK/out"
check "only main, native and demo" test "$(grep -c '^phase ' "$WORK/out")" = 3
end_case

finish
