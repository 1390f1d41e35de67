#!/usr/bin/env bash
# Tests of odoo_run_logged (scripts/lib.sh), with a fake Odoo (a shell function in place of
# odoo_run): it returns Odoo's exit status as soon as Odoo exits, even when Odoo leaves behind a
# process that keeps its output open (a headless Chromium of a browser test did, and the run
# waited for it forever); the output reaches both the terminal and the log, whole; a TERM or INT
# of the calling script stops Odoo and what it started, then runs the caller's trap.
#
#   bash scripts/tests/test_odoo_run_logged.sh   prints "scripts: N passed, N failed"; exit 1 on a failure
#
# Offline, in seconds. ./scripts/test.sh runs it before the Odoo tests.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$(cd "$HERE/.." && pwd)/lib.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loyalty_run_logged.XXXXXX")"
# kill_leftovers: what a failed case left running is stopped (only the fake's processes: their
# PIDs are in $WORK/*.pid)
kill_leftovers() {
    local f
    for f in "$WORK"/*.pid; do
        [[ -f "$f" ]] && kill -KILL "$(cat "$f")" 2>/dev/null
        rm -f "$f"
    done
}
trap 'kill_leftovers; rm -rf "$WORK"' EXIT

# shellcheck source=scripts/tests/harness.sh
source "$HERE/harness.sh"

case_setup() {
    kill_leftovers
    rm -f "$WORK"/out "$WORK"/err "$WORK"/odoo.log "$WORK"/args
}
show_last_output() {
    echo "--- stdout, stderr of the last call:"
    { tail -n 15 "$WORK/out" 2>/dev/null; tail -n 15 "$WORK/err" 2>/dev/null; } | sed 's/^/    /'
}

# gone PIDFILE: the process whose PID the file holds no longer runs (a zombie, which an init
# that does not reap orphans may keep, counts as gone)
gone() {
    local pid stat
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] || return 1
    stat="$(ps -o stat= -p "$pid" 2>/dev/null)"
    [[ -z "$stat" || "$stat" == Z* ]]
}


# The fake Odoo, sourced by every case after lib.sh. FAKE_MODE:
#   leftover  prints lines (stdout and stderr), starts a child that keeps its output open and
#             sleeps 300 s, exits with status 3
#   many      prints 5000 numbered lines at once, exits 0
#   hang      prints "started", starts such a child, then sleeps 300 s itself
cat >"$WORK/fake.sh" <<'EOF'
odoo_run() {
    printf '%s\n' "$@" >"$WORK/args"
    echo "$BASHPID" >"$WORK/odoo.pid"
    case "$FAKE_MODE" in
    leftover)
        echo "odoo: line one"
        echo "odoo: line two on stderr" >&2
        sleep 300 &
        echo $! >"$WORK/child.pid"
        echo "odoo: line three"
        return 3
        ;;
    many)
        seq -f 'odoo: line %g' 1 5000
        return 0
        ;;
    hang)
        sleep 300 &
        echo $! >"$WORK/child.pid"
        echo "started"
        sleep 300 &
        echo $! >"$WORK/hang.pid"
        wait $!
        ;;
    esac
}
EOF
export WORK

# --------------------------------------------------------------------------
# cases

start_case "a process left behind holding Odoo's output: returns Odoo's status 3 in seconds"
t0=$SECONDS
# shellcheck disable=SC2016  # the script's $1, $2 are bash -c's arguments
FAKE_MODE=leftover timeout -k 5 60 bash -c '
    set -euo pipefail
    source "$1"
    source "$2"
    trap "exit 130" INT
    rc=0
    odoo_run_logged "$WORK/odoo.log" -d "some db" --stop-after-init || rc=$?
    echo "rc=$rc"
    echo "INT trap after: $(trap -p INT)"
    echo "TERM trap after: [$(trap -p TERM)]"
    echo "monitor mode after: [${-//[^m]/}]"
' run_logged_test "$LIB" "$WORK/fake.sh" >"$WORK/out" 2>"$WORK/err" </dev/null
RC=$?
SECS=$((SECONDS - t0))
check "the script goes on (exit status 0, got $RC)" test "$RC" = 0
check "odoo_run_logged returns 3" contains "$WORK/out" "rc=3"
check "it returns within 10 s (took ${SECS}s)" test "$SECS" -lt 10
check "the log holds the lines" contains "$WORK/odoo.log" "odoo: line one"
check "the log holds stderr too" contains "$WORK/odoo.log" "odoo: line two on stderr"
check "the log holds the last line" contains "$WORK/odoo.log" "odoo: line three"
check "the terminal gets the lines" contains "$WORK/out" "odoo: line one"
check "the terminal gets the last line" contains "$WORK/out" "odoo: line three"
check "Odoo got its arguments" test "$(cat "$WORK/args" 2>/dev/null)" = $'-d\nsome db\n--stop-after-init'
check "the fake Odoo is gone" gone "$WORK/odoo.pid"
check "the child left behind is gone" gone "$WORK/child.pid"
check "the leftover is reported" contains "$WORK/err" "Stopping the processes left behind by Odoo"
check "the caller's INT trap is back" contains "$WORK/out" "INT trap after: trap -- 'exit 130' SIGINT"
check "no TERM trap is left" contains "$WORK/out" "TERM trap after: []"
check "monitor mode is off again" contains "$WORK/out" "monitor mode after: []"
end_case

start_case "a fast output of 5000 lines reaches the terminal whole; status 0 under set -e"
# shellcheck disable=SC2016
FAKE_MODE=many timeout -k 5 60 bash -c '
    set -euo pipefail
    source "$1"
    source "$2"
    odoo_run_logged "$WORK/odoo.log" -i x
    echo "went on"
' run_logged_test "$LIB" "$WORK/fake.sh" >"$WORK/out" 2>"$WORK/err" </dev/null
RC=$?
check "exit status 0 (got $RC)" test "$RC" = 0
check "the script goes on" contains "$WORK/out" "went on"
check "the log has 5000 lines" test "$(wc -l <"$WORK/odoo.log")" = 5000
check "the terminal has the same 5000 lines" test "$(grep -c '^odoo: line ' "$WORK/out")" = 5000
check "the terminal has the last line" contains "$WORK/out" "odoo: line 5000"
end_case

# run_signalled SIGNAL TRAPS: a script with the traps TRAPS (test.sh's) runs the "hang" fake
# through odoo_run_logged; once Odoo started, SIGNAL goes to the script. Exit status in RC,
# seconds from the signal to the end in SECS.
run_signalled() {
    local sig="$1" traps="$2" pid i t0
    # job control: the script is not started with SIGINT ignored (as background jobs of a
    # script are), so it can trap it
    set -m
    # shellcheck disable=SC2016
    FAKE_MODE=hang timeout -k 5 120 bash -c '
        set -euo pipefail
        source "$1"
        source "$2"
        trap "echo exit trap ran" EXIT
        eval "$3"
        odoo_run_logged "$WORK/odoo.log" -i x
        echo "went on"
    ' run_logged_test "$LIB" "$WORK/fake.sh" "$traps" >"$WORK/out" 2>"$WORK/err" </dev/null &
    pid=$!
    set +m
    for ((i = 0; i < 100; i++)); do
        grep -q started "$WORK/odoo.log" 2>/dev/null && break
        sleep 0.1
    done
    # "timeout" runs the script as its child: signal the script itself
    kill -s "$sig" "$(pgrep -P "$pid" -f run_logged_test | head -n1)"
    t0=$SECONDS
    wait "$pid"
    RC=$?
    SECS=$((SECONDS - t0))
}

start_case "SIGTERM of test.sh stops Odoo and its child, then runs test.sh's trap (exit 143, EXIT trap)"
run_signalled TERM "trap 'exit 130' INT; trap 'exit 143' TERM"
check "exit status 143 (got $RC)" test "$RC" = 143
check "it stops within 10 s (took ${SECS}s)" test "$SECS" -lt 10
check "the script does not go on" test "$(grep -c 'went on' "$WORK/out")" = 0
check "the EXIT trap ran (test.sh drops its database there)" contains "$WORK/out" "exit trap ran"
check "the fake Odoo is gone" gone "$WORK/odoo.pid"
check "its child is gone" gone "$WORK/child.pid"
end_case

start_case "SIGINT (Ctrl-C) of test.sh stops Odoo and its child, then runs test.sh's trap (exit 130)"
run_signalled INT "trap 'exit 130' INT; trap 'exit 143' TERM"
check "exit status 130 (got $RC)" test "$RC" = 130
check "it stops within 10 s (took ${SECS}s)" test "$SECS" -lt 10
check "the EXIT trap ran" contains "$WORK/out" "exit trap ran"
check "the fake Odoo is gone" gone "$WORK/odoo.pid"
check "its child is gone" gone "$WORK/child.pid"
end_case

start_case "SIGTERM of a script without a TERM trap stops Odoo and its child, then the script dies of it"
run_signalled TERM ""
check "exit status 143 (got $RC)" test "$RC" = 143
check "it stops within 10 s (took ${SECS}s)" test "$SECS" -lt 10
check "the script does not go on" test "$(grep -c 'went on' "$WORK/out")" = 0
check "the fake Odoo is gone" gone "$WORK/odoo.pid"
check "its child is gone" gone "$WORK/child.pid"
end_case

finish
