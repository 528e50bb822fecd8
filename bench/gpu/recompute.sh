#!/usr/bin/env bash
# Recompute a committed run on the device so that every point keeps its per-question predictions (issue 17), in a
# `lease.sh bg` job after `eval "$(bash bench/gpu/lease.sh env)"`; LAYERPRUNE_DATA=$LP_DATA gives the data.
#   bash bench/gpu/recompute.sh unhealed FAMILY [OUT]  the unhealed points only: the healed points, distances.npz and
#                                                     healing logs of records/FAMILY are kept, every *-raw point is
#                                                     scored again (the sweep resumes and finds them missing)
#   bash bench/gpu/recompute.sh healed FAMILY [OUT]    the healed points without per-question predictions: they are
#                                                     healed and scored again; every other point and distances.npz
#                                                     of records/FAMILY are kept
#   bash bench/gpu/recompute.sh all FAMILY [OUT]       every point, distances and heals included, into an empty OUT
#   bash bench/gpu/recompute.sh resume FAMILY [OUT]    the figure notebook again on OUT as a killed run left it (the
#                                                     sweep computes only what is missing)
# OUT defaults to $LP_RUNS/FAMILY. The figure notebook runs with figures/params/FAMILY.yaml, device cuda; EXTRA (a 4th
# argument, JSON members) is added to its parameters, and LP_RECORD names another committed run than records/FAMILY.
# The CPU checks: LP_DEVICE=cpu LP_RUNS=/tmp/rc bash bench/gpu/recompute.sh unhealed smollm2-135m
#   layerprune figures --family smollm2-135m --profile tiny --no-cross-family --params '{"out_dir": "/tmp/rt", "heal_ns": [0.2]}'
#   LP_DEVICE=cpu LP_RECORD=/tmp/rt bash bench/gpu/recompute.sh healed smollm2-135m /tmp/rt2 '"profile": "tiny", "heal_ns": [0.2]'

set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:?unhealed, healed or all}; family=${2:?FAMILY}
out=${3:-$LP_RUNS/$family}
extra=${4:-}
rec=${LP_RECORD:-records/$family}
[ -d "$rec/points" ] || { echo "no committed run $rec/points"; exit 2; }
if [ "$what" = resume ]; then [ -d "$out" ] || { echo "no run folder $out to resume"; exit 2; }
else mkdir -p "$out"; [ -z "$(ls -A "$out")" ] || { echo "$out is not empty: give a new folder"; exit 2; }; fi
case "$what" in
  unhealed)
    cp -r "$rec/points" "$rec/distances.npz" "$rec/config.json" "$out"/
    [ -d "$rec/healing" ] && cp -r "$rec/healing" "$out"/
    rm -f "$out"/points/*-raw.json
    echo "kept $(ls "$out/points" | wc -l) healed points of $rec; the unhealed ones are recomputed" ;;
  healed)
    cp -r "$rec/points" "$rec/distances.npz" "$rec/config.json" "$out"/
    python3 - "$out/points" <<'PY'
import json, sys
from pathlib import Path
gone = [p for p in Path(sys.argv[1]).glob("*-healed.json") if "mmlu_pred" not in json.loads(p.read_text())]
for p in gone: p.unlink()
print(f"{len(gone)} healed points without per-question predictions are healed and scored again:", *sorted(p.stem for p in gone))
PY
    ;;
  all|resume) ;;
  *) echo "unknown '$what': use unhealed, healed, all or resume"; exit 2 ;;
esac
python3 -c "import sys; from layerprune.cli import main; main(sys.argv[1:])" figures --family "$family" --no-cross-family \
  --params "{\"out_dir\": \"$out\", \"device\": \"${LP_DEVICE:-cuda}\"${extra:+, $extra}}"
