#!/usr/bin/env bash
# App. B's ablations (figs 7-9) of figures/params/qwen2.5-coder-1.5b-ablations.yaml on the device, one part a process
# (bench/gpu/README.md, "Ablations lease"); in a `lease.sh bg` job, after `eval "$(bash bench/gpu/lease.sh env)"`.
#   bash bench/gpu/ablations.sh PART [OUT]   PART: fewshot, seeds, ranks (at once), then draw; OUT: the run folder
# The CPU check of the same path: LP_DEVICE=cpu bash bench/gpu/ablations.sh all /tmp/abl '"base_family": "smollm2-135m", ...'
set -euo pipefail
cd "$(dirname "$0")/../.."
part=${1:?PART: fewshot, seeds, ranks, draw or all}
out=${2:-$LP_RUNS/qwen2.5-coder-1.5b-ablations}
extra=${3:-}
python3 -c "import sys; from layerprune.cli import main; main(sys.argv[1:])" figures --family qwen2.5-coder-1.5b-ablations \
  --params "{\"part\": \"$part\", \"out_dir\": \"$out\", \"device\": \"${LP_DEVICE:-cuda}\", \"data_dir\": \"${LP_DATA:-}\"${extra:+, $extra}}"
