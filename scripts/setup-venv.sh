#!/usr/bin/env bash
# Create ./.venv and install the product (and with "test", what the tests need). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  if [ -n "$extras" ]; then
    .venv/bin/pip install --quiet -e ".[$extras]"
  else
    .venv/bin/pip install --quiet -e .
  fi
  touch "$stamp"
fi
