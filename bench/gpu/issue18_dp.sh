# Issue 18 runs 2 and 3 on one host with 2 GPUs, one after the other: data-parallel evaluation (2 processes, then 1)
# and data-parallel healing (2 processes seed 0, 1 process seeds 0 and 1), each followed by its compare step.
#   bash bench/gpu/issue18_dp.sh OUT MODEL DATA            # on the GPUs (qwen2.5-coder-1.5b, whole MMLU test set)
#   LP_EVAL_ARGS='--subjects abstract_algebra,anatomy --limit 3 --boolq-limit 16 --dtype float32 --batch-tokens 4096' \
#   LP_HEAL_ARGS='--family smollm2-135m --remove 2 --steps 3 --seq-len 64 --micro-batch 4' \
#       bash bench/gpu/issue18_dp.sh OUT TINY_CKPT DATA    # the CPU check (accelerate falls back to gloo on CPUs)
# A step that fails is reported and the next one still runs; the exit code counts the failures.
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
OUT=${1:?OUT MODEL DATA}; MODEL=${2:?OUT MODEL DATA}; DATA=${3:?OUT MODEL DATA}
EVAL_ARGS=${LP_EVAL_ARGS:-}; HEAL_ARGS=${LP_HEAL_ARGS:-}
LAUNCH="python3 -m accelerate.commands.launch --num_machines 1 --mixed_precision no --dynamo_backend no"
failed=0
step() { echo "== $(date -u +%H:%M:%S) $*"; "$@" || { echo "!! failed ($?): $*"; failed=$((failed + 1)); }; }
mkdir -p "$OUT"
# shellcheck disable=SC2086
{
step $LAUNCH --multi_gpu --num_processes 2 bench/gpu/dp_eval.py --model "$MODEL" --data-dir "$DATA" --out "$OUT/dp_eval" $EVAL_ARGS
step $LAUNCH --num_processes 1 bench/gpu/dp_eval.py --model "$MODEL" --data-dir "$DATA" --out "$OUT/dp_eval" $EVAL_ARGS
step python3 bench/gpu/dp_eval.py compare --out "$OUT/dp_eval"
step $LAUNCH --multi_gpu --num_processes 2 bench/gpu/dp_heal.py --model "$MODEL" --data-dir "$DATA" --out "$OUT/dp_heal" --seed 0 $HEAL_ARGS
step $LAUNCH --num_processes 1 bench/gpu/dp_heal.py --model "$MODEL" --data-dir "$DATA" --out "$OUT/dp_heal" --seed 0 $HEAL_ARGS
step $LAUNCH --num_processes 1 bench/gpu/dp_heal.py --model "$MODEL" --data-dir "$DATA" --out "$OUT/dp_heal" --seed 1 $HEAL_ARGS
step python3 bench/gpu/dp_heal.py compare --out "$OUT/dp_heal"
}
rm -rf "$OUT"/dp_heal/pruned_* "$OUT"/dp_heal/heal_*/adapter   # weights: not part of the record
echo "== $(date -u +%H:%M:%S) done, $failed failed"; exit $failed
