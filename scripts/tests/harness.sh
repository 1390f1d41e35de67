# shellcheck shell=bash
# What the scripts' own tests share (sourced by scripts/tests/test_*.sh): cases, checks, summary.
#
#   start_case "what it shows"      begins a case (calls case_setup when the test defines it)
#   check "what" COMMAND...         the command must succeed, else the case fails with "what"
#   fail "why"                      the case fails
#   end_case                        counts the case; on failure calls show_last_output (the test's own)
#   finish                          prints the failures and the summary; its status is the verdict

PASSED=0
FAILED=0
FAILURES=()
CASE=""
CASE_OK=1

fail() {
    CASE_OK=0
    FAILURES+=("$CASE: $*")
}
check() {
    local what="$1"
    shift
    "$@" || fail "$what"
}
# contains FILE TEXT: the file holds the text
contains() { grep -qF -- "$2" "$1"; }

start_case() {
    CASE="$1"
    CASE_OK=1
    if declare -F case_setup >/dev/null; then case_setup; fi
}
end_case() {
    if ((CASE_OK)); then
        PASSED=$((PASSED + 1))
        echo "ok - $CASE"
    else
        FAILED=$((FAILED + 1))
        echo "FAILED - $CASE"
        if declare -F show_last_output >/dev/null; then show_last_output; fi
    fi
}
finish() {
    echo
    for f in "${FAILURES[@]}"; do printf 'FAILED: %s\n' "$f" >&2; done
    echo "scripts: $PASSED passed, $FAILED failed"
    ((FAILED == 0))
}
