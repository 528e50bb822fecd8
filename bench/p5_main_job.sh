#!/usr/bin/env bash
# P5: the main job from a fresh clone, the environment already installed: time `bash figures/run.sh` (recompute the
# default family, then check it against the committed record). Run it on an otherwise idle machine.
#   bash bench/p5_main_job.sh            # clone HEAD into a temp folder, reuse this checkout's .venv, time the job
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
echo "P5: $secs s, exit $rc, $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
exit $rc
