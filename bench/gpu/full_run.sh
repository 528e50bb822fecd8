#!/usr/bin/env bash
# The whole-test-set protocol (issue 7) for one zoo family on the device: `layerprune figures` on figures/family.ipynb,
# profile `full` (every n, both strategies, all 14,042 MMLU test questions 5-shot, all 3,270 BoolQ), C4 loss on
# 64 x 1,024 tokens, heals with the `gpu` profile at 100 QLoRA steps of 16 x 1,024 tokens (bench/gpu/README.md).
# A committed run folder is copied into $LP_RUNS first and resumed, so only its missing points run.
#   eval "$(bash bench/gpu/lease.sh env)"
#   bash bench/gpu/lease.sh bg KEY-full bash bench/gpu/full_run.sh KEY HEAL_NS MICRO [FIRST_HEAL_NS]
# e.g. KEY=gemma3-270m HEAL_NS='[0.2,0.4,0.6]' MICRO=4; FIRST_HEAL_NS (e.g. '[0.6]') runs a first pass with those heals.
# MICRO must be the committed run's heal micro batch (the sweep refuses other settings); `heal` lowers it on CUDA out of
# memory by itself. LP_DEVICE=cpu LP_PROFILE=tiny: a local dry run.
set -euo pipefail
cd "$(dirname "$0")/../.."
key=${1:?KEY HEAL_NS MICRO [FIRST_HEAL_NS]}; heal_ns=${2:?HEAL_NS}; micro=${3:?MICRO}; first=${4:-}
runs=${LP_RUNS:?run eval "\$(bash bench/gpu/lease.sh env)" first}; record=records/$key-full
[ -d "$runs/$key-full" ] || [ ! -d "$record" ] || cp -r "$record" "$runs/"   # resume the committed run
params() {  # $1 = heal_ns (JSON list)
  echo "{\"family\": \"$key-full\", \"out_dir\": \"$runs/$key-full\", \"device\": \"${LP_DEVICE:-cuda}\",
    \"data_dir\": \"${LP_DATA:-}\", \"c4_blocks\": 64, \"c4_len\": 1024, \"heal_ns\": $1, \"heal_profile\": \"gpu\",
    \"heal_overrides\": {\"steps\": 100, \"seq_len\": 1024, \"global_batch\": 16, \"micro_batch\": $micro,
    \"warmup_steps\": 10, \"deterministic\": false}}"
}
figures() {
  python3 -c "import sys; from layerprune.cli import main; main(sys.argv[1:])" figures --family "$key-full" \
    --profile "${LP_PROFILE:-full}" --no-cross-family --params "$(params "$1")"
}
[ -z "$first" ] || figures "$first"
figures "$heal_ns"
