#!/usr/bin/env bash
# P5: the main job from a fresh clone with the environment installed, timed (issue 15; goal <= 10 min
# on a 2-core CPU). Clones this checkout into a temp dir, reuses its .venv, times `bash figures/run.sh`.
# Run on a quiet machine: `uptime` is printed before and after, since other load inflates the time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
git clone -q "$root" "$tmp/layerprune"
ln -s "$root/.venv" "$tmp/layerprune/.venv"
uptime
cd "$tmp/layerprune"
start=$(date +%s)
bash figures/run.sh "$@"
echo "P5: bash figures/run.sh took $(( $(date +%s) - start )) s"
uptime
