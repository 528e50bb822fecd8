#!/usr/bin/env bash
# P5: the main job from a fresh clone, the environment already installed: time `bash figures/run.sh` (recompute the
# default family, then check it against the committed record). Run it on an otherwise idle machine.
#   bash bench/p5_main_job.sh            # clone HEAD into a temp folder, reuse this checkout's .venv, time the job
#   P5_OUT=bench/p5-results/main_job.json bash bench/p5_main_job.sh   # also write the raw record bench/summary.py reads
# Prints the job's output, then one line `P5: <seconds> s, exit <code>, <cpu model>, <cores> cores, load <1-min>`.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/layerprune"
ln -s "$repo/.venv" "$work/layerprune/.venv"      # the environment installed (tests/env.sh): only the job is timed
cd "$work/layerprune"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # this clone's layerprune before the venv's editable install
start=$(date +%s.%N)
bash figures/run.sh "$@"; rc=$?
secs=$(python3 -c "import time; print(round(time.time() - $start, 1))")
cpu="$(lscpu | sed -n 's/^Model name: *//p')"; load="$(cut -d' ' -f1 /proc/loadavg)"
echo "P5: $secs s, exit $rc, $cpu, $(nproc) cores, load $load"
if [ -n "${P5_OUT:-}" ]; then  # the raw record bench/summary.py reads (relative paths only)
  cd "$repo" && mkdir -p "$(dirname "$P5_OUT")" && python3 -c 'import json, sys; a = sys.argv[1:]
json.dump(dict(seconds=float(a[0]), exit=int(a[1]), cpu=a[2], cores=int(a[3]), load_1min=float(a[4]), commit=a[5], date=a[6],
               command="bash bench/p5_main_job.sh"), open(a[7], "w"), indent=1)' "$secs" "$rc" "$cpu" "$(nproc)" "$load" \
    "$(git -C "$repo" rev-parse --short HEAD)" "$(date -u +%F)" "$P5_OUT"
fi
exit $rc
