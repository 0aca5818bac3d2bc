#!/usr/bin/env bash
# Install and run the product on the embedded default (SQLite + embedded Redis under ./var):
# web + worker, demo practice seeded, URL printed. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/python -m contact_center.run "$@"
