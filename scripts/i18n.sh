#!/usr/bin/env bash
# Regenerate loyalty_club/i18n/loyalty_club.pot from the code (Python, XML, JavaScript strings).
#
#   ./scripts/i18n.sh
#
# Installs the addon in a throwaway copy of the test template (the addon's dependencies, see
# scripts/test.sh), exports the module's terms and drops the copy. Then translate the new terms
# in loyalty_club/i18n/fa.po (TestTranslations fails on a stale .pot or an untranslated term).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; }

setup_all
DB="${ADDON_NAME}_i18n_$(date +%Y%m%d_%H%M%S)_$$"
ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1 >/dev/null
clone_db "$TEST_TEMPLATE_DB" "$DB"
trap 'drop_db "$DB"' EXIT
LOG="$LOG_DIR/i18n-$(date +%Y%m%d-%H%M%S).log"
info "Installing $ADDON_NAME in $DB (log $LOG)"
odoo_run -d "$DB" -i "$ADDON_NAME" --stop-after-init >"$LOG" 2>&1 ||
    die "installing $ADDON_NAME failed; see $LOG"
odoo_run -d "$DB" --i18n-export="$ADDON_PARENT/$ADDON_NAME/i18n/$ADDON_NAME.pot" --modules="$ADDON_NAME" \
    --stop-after-init >>"$LOG" 2>&1 || die "exporting the terms failed; see $LOG"
info "Wrote $ADDON_NAME/i18n/$ADDON_NAME.pot"
