#!/usr/bin/env bash
# Tests of find_odoo (scripts/lib.sh) on a machine without Odoo 18: it clones Odoo's 18.0 branch
# into the cache folder, goes on with it and reuses it; with an unreachable URL, without git or
# with LOYALTY_ODOO_NO_CLONE=1 it stops, naming the places it looked at and ODOO_PATH.
#
#   bash scripts/tests/test_find_odoo.sh     prints "scripts: N passed, N failed"; exit 1 on a failure
#
# Offline and in seconds: "Odoo's repository" is a local bare repository holding a minimal Odoo 18
# tree, HOME and XDG_CACHE_HOME are temporary folders, the common places are empty temporary
# paths and the python probed for an importable "odoo" runs with -I -S (no site-packages, so no
# .pth file). ./scripts/test.sh runs it before the Odoo tests.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$(cd "$HERE/.." && pwd)/lib.sh"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loyalty_find_odoo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=scripts/tests/harness.sh
source "$HERE/harness.sh"

show_last_output() {
    echo "--- stderr of the last find_odoo:"
    sed 's/^/    /' "$WORK/err" 2>/dev/null | head -n 30
}

lacks() { ! grep -qF -- "$2" "$1"; }
matches() { grep -qE -- "$2" "$1"; }
# no_leftover DIR: no temporary clone folder in DIR
no_leftover() { ! compgen -G "$1/.odoo-18.0.tmp.*" >/dev/null; }


# --------------------------------------------------------------------------
# fixtures

git_q() {
    git -c user.name=test -c user.email=test@example.com -c init.defaultBranch=main "$@" >"$WORK/git.log" 2>&1 || {
        cat "$WORK/git.log" >&2
        echo "FAILED: could not build the test repository (git $*)" >&2
        exit 1
    }
}

# make_tree DIR MAJOR: the least odoo_source_check accepts, plus the folders of the addons path
make_tree() {
    mkdir -p "$1/odoo/addons/base" "$1/addons/web"
    printf '#!/usr/bin/env python3\n' >"$1/odoo-bin"
    chmod +x "$1/odoo-bin"
    printf "RELEASE_LEVELS = [ALPHA, BETA, RELEASE_CANDIDATE, FINAL] = ['alpha', 'beta', 'candidate', 'final']\nversion_info = (%s, 0, 0, FINAL, 0)\n" "$2" >"$1/odoo/release.py"
    : >"$1/odoo/__init__.py"
    : >"$1/odoo/addons/base/__init__.py"
    : >"$1/addons/web/__init__.py"
    printf 'lxml\n' >"$1/requirements.txt"
}

# make_bare NAME MAJOR: a bare repository $WORK/NAME.git whose branch 18.0 holds an Odoo MAJOR
# tree in two commits (so that --depth 1 has something to leave out)
make_bare() {
    local src="$WORK/$1.src"
    git_q init "$src"
    make_tree "$src" "$2"
    git_q -C "$src" checkout -b 18.0
    git_q -C "$src" add -A
    git_q -C "$src" commit -m "first"
    printf '# second\n' >>"$src/odoo/__init__.py"
    git_q -C "$src" commit -am "second"
    git_q clone --bare "$src" "$WORK/$1.git"
}

REAL_PY="$(command -v python3)"
mkdir -p "$WORK/bin" "$WORK/nogit-bin"
# a python that cannot import odoo, whatever the machine's site-packages hold
printf '#!/bin/sh\nexec "%s" -I -S "$@"\n' "$REAL_PY" >"$WORK/bin/python3"
chmod +x "$WORK/bin/python3"
# PATH without git: only the tools lib.sh uses
for tool in bash sh env dirname basename readlink mkdir mktemp rm mv sed head tail tr grep flock timeout tee cut sha256sum id cat; do
    p="$(command -v "$tool")" && ln -s "$p" "$WORK/nogit-bin/$tool"
done
# a git that writes a complete-looking tree where the clone goes, then dies (a clone cut short)
mkdir -p "$WORK/killed-git-bin"
cat >"$WORK/killed-git-bin/git" <<'EOF'
#!/usr/bin/env bash
dest="${!#}"
mkdir -p "$dest/odoo"
printf '#!/usr/bin/env python3\n' >"$dest/odoo-bin"
printf 'version_info = (18, 0, 0, "final", 0)\n' >"$dest/odoo/release.py"
echo "Receiving objects:  42% (12345/29393)" >&2
kill -9 $$
EOF
chmod +x "$WORK/killed-git-bin/git"

make_bare odoo 18
make_bare odoo17 17
GOOD_URL="file://$WORK/odoo.git"
closed_port() { "$REAL_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_find HOME [VAR=VALUE...]: find_odoo in a clean environment (env -i: no proxy, no ODOO_PATH,
# no LOYALTY_* from outside), common places pointed at empty paths. Output in $WORK/out and
# $WORK/err, exit status in RC, seconds taken in SECS.
run_find() {
    local home="$1"
    shift
    local t0=$SECONDS
    mkdir -p "$home"
    # shellcheck disable=SC2016  # the script's $1, $2 are bash -c's arguments
    env -i PATH="$WORK/bin:$PATH" HOME="$home" LANG=C GIT_CONFIG_NOSYSTEM=1 \
        PYTHON="$WORK/bin/python3" LOYALTY_ODOO_GIT_URL="$GOOD_URL" LOYALTY_ODOO_CLONE_TIMEOUT=60 "$@" \
        bash -c '
            set -euo pipefail
            source "$1"
            ODOO_COMMON_PLACES=("$2/empty/odoo" "$2/empty/odoo18")
            find_odoo
            printf "ODOO_DIR=%s\nODOO_BIN=%s\nADDONS_PATH=%s\n" "$ODOO_DIR" "$ODOO_BIN" "$ADDONS_PATH"
            echo "went on"
        ' find_odoo_test "$LIB" "$WORK" >"$WORK/out" 2>"$WORK/err" </dev/null
    RC=$?
    SECS=$((SECONDS - t0))
}

# expect_found DIR: find_odoo succeeded with Odoo in DIR and the script went on
expect_found() {
    local dir="$1"
    check "exit status 0 (got $RC)" test "$RC" = 0
    check "ODOO_DIR=$dir" contains "$WORK/out" "ODOO_DIR=$dir"$'\n'
    check "ODOO_BIN=$dir/odoo-bin" contains "$WORK/out" "ODOO_BIN=$dir/odoo-bin"
    check "ADDONS_PATH is the tree's addons and the repository" \
        contains "$WORK/out" "ADDONS_PATH=$dir/addons,$dir/odoo/addons,$REPO_ROOT"
    check "the script goes on after find_odoo" contains "$WORK/out" "went on"
}

# expect_stopped CLONE_DIR: find_odoo stopped with the places it looked at and the ODOO_PATH hint
expect_stopped() {
    local clone_dir="$1"
    check "exit status non-zero" test "$RC" != 0
    check "the script does not go on" lacks "$WORK/out" "went on"
    check "the message says Odoo 18 was not found" contains "$WORK/err" "ERROR: Odoo 18 was not found. Looked at:"
    check "the message names ODOO_PATH" contains "$WORK/err" "- ODOO_PATH (not set)"
    check "the message names the python probe" contains "$WORK/err" "python package 'odoo' importable by $WORK/bin/python3 (not importable)"
    check "the message names the common places" contains "$WORK/err" "- $WORK/empty/odoo (no such directory)"
    check "the message names the clone folder" contains "$WORK/err" "- $clone_dir ("
    check "the message says how to set ODOO_PATH" contains "$WORK/err" "ODOO_PATH=/path/to/odoo ./scripts/test.sh"
    check "no clone folder was made" test ! -e "$clone_dir"
    check "no temporary clone is left" no_leftover "$(dirname "$clone_dir")"
}

# the one-line reason after "failed: "
clone_reason() { sed -n 's/^ *Cloning .* failed: //p' "$WORK/err"; }

# --------------------------------------------------------------------------
# cases

H1="$WORK/home1"
CLONE1="$H1/.cache/loyalty_club/odoo-18.0"

start_case "nothing found: clones 18.0 into ~/.cache/loyalty_club/odoo-18.0 and goes on"
run_find "$H1"
expect_found "$CLONE1"
check "the clone folder is announced before cloning" contains "$WORK/err" "from $GOOD_URL into $CLONE1"
check "the download size is announced" contains "$WORK/err" "a few hundred MB"
check "the places looked at are listed" contains "$WORK/err" "Odoo 18 was not found (looked at: ODOO_PATH (not set);"
check "the clone is on branch 18.0" test "$(git -C "$CLONE1" rev-parse --abbrev-ref HEAD 2>/dev/null)" = 18.0
check "the clone is shallow" test "$(git -C "$CLONE1" rev-parse --is-shallow-repository 2>/dev/null)" = true
check "no temporary clone is left" no_leftover "$H1/.cache/loyalty_club"
end_case

start_case "second run: reuses the clone without git or network"
run_find "$H1" PATH="$WORK/bin:$WORK/nogit-bin" LOYALTY_ODOO_GIT_URL="file://$WORK/nonexistent.git"
expect_found "$CLONE1"
check "it does not clone again" lacks "$WORK/err" "Cloning"
end_case

start_case "XDG_CACHE_HOME: the clone goes to \$XDG_CACHE_HOME/loyalty_club/odoo-18.0"
run_find "$WORK/home-xdg" XDG_CACHE_HOME="$WORK/xdg-cache"
expect_found "$WORK/xdg-cache/loyalty_club/odoo-18.0"
check "nothing is written to ~/.cache" test ! -e "$WORK/home-xdg/.cache"
end_case

start_case "unreachable URL (missing repository): stops with the message"
H="$WORK/home-unreachable"
run_find "$H" LOYALTY_ODOO_GIT_URL="file://$WORK/nonexistent.git"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the reason is git's one line" test "$(clone_reason | wc -l)" = 1
check "the reason is git's error" matches "$WORK/err" "^ *Cloning file://.*/nonexistent\.git \(branch 18\.0\) into .* failed: fatal: "
end_case

start_case "unreachable URL (closed localhost port): stops with the message, quickly"
H="$WORK/home-closed-port"
run_find "$H" LOYALTY_ODOO_GIT_URL="http://127.0.0.1:$(closed_port)/odoo.git"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the reason is git's error" matches "$WORK/err" "failed: (fatal|error): .*127\.0\.0\.1"
check "it took seconds (took ${SECS}s)" test "$SECS" -lt 20
end_case

start_case "black-holed server: the clone stops after LOYALTY_ODOO_CLONE_TIMEOUT"
# a server that accepts connections (in the kernel's backlog) and never answers
"$REAL_PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)
' >"$WORK/hole-port" &
HOLE_PID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [[ -s "$WORK/hole-port" ]] && break
    sleep 0.2
done
H="$WORK/home-hole"
run_find "$H" LOYALTY_ODOO_GIT_URL="http://127.0.0.1:$(cat "$WORK/hole-port")/odoo.git" LOYALTY_ODOO_CLONE_TIMEOUT=2
kill "$HOLE_PID" 2>/dev/null
wait "$HOLE_PID" 2>/dev/null
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the reason is the timeout" test "$(clone_reason)" = "timed out after 2s (LOYALTY_ODOO_CLONE_TIMEOUT)"
check "it stopped soon after the timeout (took ${SECS}s)" test "$SECS" -lt 15
end_case

start_case "no git: stops with the message"
H="$WORK/home-nogit"
run_find "$H" PATH="$WORK/bin:$WORK/nogit-bin"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the reason is the missing git" test "$(clone_reason)" = "git is not installed (on Debian: apt-get install git)"
end_case

start_case "LOYALTY_ODOO_NO_CLONE=1: stops with the message, no clone"
H="$WORK/home-noclone"
run_find "$H" LOYALTY_ODOO_NO_CLONE=1
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the message names LOYALTY_ODOO_NO_CLONE" contains "$WORK/err" "Not cloning $GOOD_URL (LOYALTY_ODOO_NO_CLONE=1)."
check "nothing is announced as cloning" lacks "$WORK/err" "==> Cloning"
end_case

start_case "ODOO_PATH wins over the clone"
H="$WORK/home-odoo-path"
run_find "$H" ODOO_PATH="$WORK/odoo.src"
expect_found "$WORK/odoo.src"
check "no clone" test ! -e "$H/.cache/loyalty_club"
end_case

start_case "an invalid ODOO_PATH stops, without cloning"
H="$WORK/home-bad-odoo-path"
run_find "$H" ODOO_PATH="$WORK/odoo17.src"
check "exit status non-zero" test "$RC" != 0
check "the message names ODOO_PATH" contains "$WORK/err" "ODOO_PATH=$WORK/odoo17.src is not an Odoo 18 source directory (Odoo version 17, need 18)"
check "no clone" test ! -e "$H/.cache/loyalty_club"
end_case

start_case "a clone cut short is not taken for a tree, and the next clone replaces it"
H="$WORK/home-killed"
run_find "$H" PATH="$WORK/killed-git-bin:$WORK/bin:$PATH"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
# what an interrupted run (Ctrl-C, power cut) leaves: a complete-looking tree in a temporary folder
make_tree "$H/.cache/loyalty_club/.odoo-18.0.tmp.AbC123/src" 18
run_find "$H" LOYALTY_ODOO_GIT_URL="file://$WORK/nonexistent.git"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
make_tree "$H/.cache/loyalty_club/.odoo-18.0.tmp.AbC123/src" 18
run_find "$H"
expect_found "$H/.cache/loyalty_club/odoo-18.0"
check "the leftover is removed" test ! -e "$H/.cache/loyalty_club/.odoo-18.0.tmp.AbC123"
check "the tree is the real clone" test -d "$H/.cache/loyalty_club/odoo-18.0/.git"
end_case

start_case "a clone folder holding something else is left alone"
H="$WORK/home-other"
make_tree "$H/.cache/loyalty_club/odoo-18.0" 17
run_find "$H"
check "exit status non-zero" test "$RC" != 0
check "the reason says to remove it" test "$(clone_reason)" = \
    "$H/.cache/loyalty_club/odoo-18.0 exists but is not an Odoo 18 source (Odoo version 17, need 18); remove it to clone again, or set ODOO_PATH"
check "the folder is untouched" grep -q '^version_info = (17' "$H/.cache/loyalty_club/odoo-18.0/odoo/release.py"
end_case

start_case "a branch 18.0 that is not Odoo 18 is refused"
H="$WORK/home-odoo17"
run_find "$H" LOYALTY_ODOO_GIT_URL="file://$WORK/odoo17.git"
expect_stopped "$H/.cache/loyalty_club/odoo-18.0"
check "the reason names the version" test "$(clone_reason)" = \
    "the branch 18.0 of file://$WORK/odoo17.git is not an Odoo 18 source (Odoo version 17, need 18)"
end_case

finish
