# Keep a lent machine busy while background jobs (setsid) run, and bring back what they have finished.
# The machine goes back 30 s after a call returns unless another call comes, background jobs or not, so
# run this call after call; each one returns a fresh snapshot of the run folders in $OUT/runs.tgz
# (points, results.csv, distances, healing logs and metadata; no adapters or checkpoints).
#   bash bench/gpu/wait_and_fetch.sh SECONDS RUN_DIR [RUN_DIR ...]
set -e
secs=$1; shift
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ] && pgrep -f "run_family|heal_smollm2_gpu|layerprune.cli|papermill|bench/eval.py|lmeval_runner" > /dev/null; do sleep 5; done
for d in "$@"; do [ -d "$d" ] && echo "$d: $(ls $d/points 2>/dev/null | wc -l) points"; done
tar czf $OUT/runs.tgz --exclude='*/adapter' --exclude='*/checkpoint-*' --exclude='*/merged' "$@" 2>/dev/null || true
ls -la $OUT/runs.tgz
