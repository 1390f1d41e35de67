#!/usr/bin/env bash
# Regenerate the .pot files of the repository's addons from their code (Python, XML, JavaScript
# strings): ADDON/i18n/ADDON.pot.
#
#   ./scripts/i18n.sh                             every addon (loyalty_club, loyalty_club_website_sale)
#   ./scripts/i18n.sh loyalty_club_website_sale   the addons named
#
# Installs each addon in a throwaway copy of the template its tests run in (see scripts/test.sh:
# loyalty_club's dependencies for loyalty_club; for a bridge, the main template plus its Odoo
# dependencies, e.g. website_sale), exports that module's terms and drops the copy. Then translate
# the new terms in ADDON/i18n/fa.po (loyalty_club's TestTranslations fails on a stale .pot or an
# untranslated term).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ "${1:-}" =~ ^(-h|--help)$ ]]; then
    # the comment lines at the top, up to "set -euo pipefail"
    sed -n '2,/^set /s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
fi

find_python
ALL_ADDONS="$(repo_addons)"
if (($#)); then
    ADDONS=("$@")
    for a in "${ADDONS[@]}"; do
        grep -qxF -- "$a" <<<"$ALL_ADDONS" ||
            die "'$a' is not an addon of $ADDON_PARENT (they are: $(paste -sd' ' - <<<"$ALL_ADDONS"))"
    done
else
    mapfile -t ADDONS <<<"$ALL_ADDONS"
fi

setup_all
ensure_template "$TEST_TEMPLATE_DB" "$(addon_depends)" 1 >/dev/null
DB=""
trap '[[ -z "$DB" ]] || drop_db "$DB"' EXIT
for addon in "${ADDONS[@]}"; do
    if [[ "$addon" == "$ADDON_NAME" ]]; then
        template="$TEST_TEMPLATE_DB"
    else
        template="$(bridge_template "$addon")"
        ensure_bridge_template "$addon" >/dev/null
    fi
    DB="${ADDON_NAME}_i18n_$(date +%Y%m%d_%H%M%S)_$$"
    clone_db "$template" "$DB"
    LOG="$LOG_DIR/i18n-$addon-$(date +%Y%m%d-%H%M%S).log"
    info "Installing $addon in $DB (a copy of $template; log $LOG)"
    odoo_run -d "$DB" -i "$addon" --stop-after-init --no-http --workers=0 --max-cron-threads=0 >"$LOG" 2>&1 ||
        die "installing $addon failed; see $LOG"
    mkdir -p "$ADDON_PARENT/$addon/i18n"
    odoo_run -d "$DB" --i18n-export="$ADDON_PARENT/$addon/i18n/$addon.pot" --modules="$addon" \
        --stop-after-init --no-http --workers=0 --max-cron-threads=0 >>"$LOG" 2>&1 ||
        die "exporting the terms of $addon failed; see $LOG"
    drop_db "$DB"
    DB=""
    info "Wrote $addon/i18n/$addon.pot"
done
