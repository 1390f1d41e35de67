#!/usr/bin/env bash
# Lint every addon of the repository (loyalty_club and its bridges: each folder with a
# __manifest__.py), the bench/ scripts and the pytest conftest.py: ruff (lint + format), pylint-odoo, prettier (XML, SCSS,
# JS), and the relative links of the Markdown documentation (scripts/check_links.py).
# Tools come from .venv (requirements-dev.txt) and .local/npm, installed by lib.sh.
# Exits non-zero if any check fails; prints one line per check.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

find_python
ensure_venv
ensure_node_tools

ADDONS_TEXT="$(repo_addons "$REPO_ROOT")"
mapfile -t ADDONS <<<"$ADDONS_TEXT"
info "lint: addons ${ADDONS[*]}"

failed=()
run_check() {
    local name="$1"
    shift
    info "lint: $name"
    if "$@"; then
        echo "lint: $name ok"
    else
        echo "lint: $name FAILED"
        failed+=("$name")
    fi
}

# as modules: with --system-site-packages their scripts may live outside .venv/bin
run_check "ruff check" "$VENV_PY" -m ruff check --no-fix "${ADDONS[@]}" bench scripts/check_links.py conftest.py
run_check "ruff format" "$VENV_PY" -m ruff format --check "${ADDONS[@]}" bench scripts/check_links.py conftest.py
run_check "pylint-odoo" "$VENV_PY" -m pylint --rcfile=.pylintrc "${ADDONS[@]}"
prettier="$NODE_TOOLS_DIR/node_modules/.bin/prettier"
xml_plugin="$NODE_TOOLS_DIR/node_modules/@prettier/plugin-xml/src/plugin.js"
if [[ -x "$prettier" && -f "$xml_plugin" ]]; then
    prettier_globs=()
    for a in "${ADDONS[@]}"; do
        # (an addon without such files yet, a new bridge, has nothing to check)
        [[ -z "$(find "$a" \( -name '*.xml' -o -name '*.scss' -o -name '*.js' \) -print -quit)" ]] ||
            prettier_globs+=("$a/**/*.{xml,scss,js}")
    done
    run_check "prettier" "$prettier" --plugin="$xml_plugin" --check "${prettier_globs[@]}"
else
    echo "lint: prettier FAILED (not installed in $NODE_TOOLS_DIR: is npm available?)"
    failed+=(prettier)
fi
# README.md, docs/*.md, bench/README.md, <addon>/readme/*.md: every relative link and anchor resolves
run_check "markdown links" "$VENV_PY" scripts/check_links.py

if ((${#failed[@]})); then
    echo "lint failed: ${failed[*]} (fix with: ruff check --fix, ruff format, prettier --write)"
    exit 1
fi
echo "lint: all checks passed"
