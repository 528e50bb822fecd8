#!/usr/bin/env bash
# The test command (README): environment, notebooks/package sync, notebook tests, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/env.sh
echo "== nbdev-export: the package must be exactly what the notebooks export"
nbdev-export
if [ -n "$(git status --porcelain -- layerprune)" ]; then
  git status --porcelain -- layerprune; git diff --stat -- layerprune
  echo "layerprune/ differs from the notebooks: edit the notebook, run nbdev-export, commit." >&2
  exit 1
fi
echo "== nbdev-test (notebook cells; 'slow' cells need: nbdev-test --flags slow)"
nbdev-test --n-workers 2 ${NBDEV_TEST_FLAGS:+--flags "$NBDEV_TEST_FLAGS"}
echo "== pytest"
python -m pytest -q -ra "$@"
