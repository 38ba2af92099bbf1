#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs them.
#   Debian's chromium (the panel's browser tests; never Playwright's own download),
#   the package with its test extra (its build bundles the panel with npm),
#   the npm packages the tests drive (the npm replicate client against the emulator).
# Extra arguments go to pytest: bash scripts/test.sh tests/test_store.py -x
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
python -m pytest "$@"
