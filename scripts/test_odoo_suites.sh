#!/usr/bin/env bash
# Run Odoo's own test suites of the modules the addon extends, on a database where the addon is
# installed: a failure that shows only with the addon is ours to fix.
#
#   ./scripts/test_odoo_suites.sh                          /sale,/account,/point_of_sale
#   ./scripts/test_odoo_suites.sh --tags /sale             a narrower --test-tags
#   ./scripts/test_odoo_suites.sh --tags /sale --without-addon   the same suites without the addon
#
# The database is a fresh copy of the test template (the addon's dependencies, with demo data as
# Odoo's own CI has it); the modules named by the tags are updated so that their at_install and
# post_install tests run. Prints the failing tests and a last line "N passed, N failed"; the exit
# status is non-zero when a test failed. Slow: about an hour for the three default suites on a
# 2-core machine. The README's test command does not run it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAGS="/sale,/account,/point_of_sale"
WITH_ADDON=1
while (($#)); do
    case "$1" in
    --tags)
        [[ $# -ge 2 && -n "$2" ]] || die "--tags needs a value, e.g. --tags /sale"
        TAGS="$2"
        shift 2
        ;;
    --without-addon)
        WITH_ADDON=0
        shift
        ;;
    -h | --help)
        sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) die "unknown argument '$1' (see ./scripts/test_odoo_suites.sh --help)" ;;
    esac
done
# the modules of the tags (/sale:TestX.test_y -> sale)
MODULES="$(tr ',' '\n' <<<"$TAGS" | sed -n 's#^[-+]\{0,1\}[^/]*/\([a-z0-9_]*\).*#\1#p' | sort -u | paste -sd, -)"
[[ -n "$MODULES" ]] || die "no module in --tags '$TAGS' (expected e.g. /sale or /point_of_sale:TestX)"

setup_all
ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1 >/dev/null
STAMP="$(date +%Y%m%d-%H%M%S)"
DB="${ADDON_NAME}_odoo_suites_${STAMP//-/_}_$$"
LOG="$LOG_DIR/odoo-suites-$STAMP.log"
clone_db "$TEST_TEMPLATE_DB" "$DB"
trap 'drop_db "$DB" >/dev/null 2>&1 || true' EXIT
if ((WITH_ADDON)); then
    info "Installing $ADDON_NAME in $DB"
    odoo_run -d "$DB" -i "$ADDON_NAME" --stop-after-init --no-http --workers=0 --max-cron-threads=0 >"$LOG" 2>&1 ||
        die "installing $ADDON_NAME failed; see $LOG"
fi
PORT="$(free_port "${LOYALTY_TEST_HTTP_PORT:-8169}")" || die "no free TCP port from ${LOYALTY_TEST_HTTP_PORT:-8169} on"
info "Running Odoo's tests '$TAGS' ($([[ $WITH_ADDON == 1 ]] && echo with || echo without) $ADDON_NAME) in $DB; log: $LOG"
rc=0
odoo_run -d "$DB" -u "$MODULES" --test-tags "$TAGS" --stop-after-init --log-level=test \
    --http-port="$PORT" --http-interface=127.0.0.1 --workers=0 --max-cron-threads=0 >>"$LOG" 2>&1 || rc=$?

summary_re='odoo\.tests\.result: ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests'
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E "$summary_re" | tail -n1 || true)"
[[ "$summary" =~ $summary_re ]] || die "Odoo's test summary is missing from $LOG (exit status $rc)"
failed=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
total=${BASH_REMATCH[3]}
grep -E '(ERROR|CRITICAL) .*(FAIL|ERROR): ' "$LOG" | sed -E 's/^.* (FAIL|ERROR): /\1: /' | sort -u || true
echo "$((total - failed)) passed, $failed failed"
((failed == 0 && rc == 0))
