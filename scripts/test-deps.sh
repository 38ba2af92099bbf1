#!/usr/bin/env bash
# What the test suite needs on a fresh machine (the README's test line runs pytest after it):
#   Debian's chromium (the panel's browser tests; never Playwright's own download),
#   the package with its test extra (its build bundles the panel with npm),
#   the npm packages the tests drive (the npm replicate client against the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
pip install -q -e ".[test]"
[ -d node_modules/esbuild ] && [ -d node_modules/replicate ] || npm install --no-audit --no-fund -s
