# Fourth and fifth GPU leases (2026-11-25, night): P3 for the larger zoo model (issue 4: Gemma-3-270M, the whole MMLU
# test set, ours vs lm-eval) and the whole-test-set reproduction through the papermill figure notebook (issue 7):
# qwen2.5-coder-1.5b, smollm2-135m, gemma3-270m; in the fifth, `perf` (the P1-P4 report) and the remaining families.
# One step per `device` call, calls back to back on one warm machine
# (it goes back 30 s after a call returns, background jobs or not); every call ends with a snapshot of the run
# folders in $OUT/runs.tgz. What each call carried is in bench/gpu/README.md.
#   bash bench/gpu/lease4.sh STEP [ARG...]
set -e
export PYTHONPATH=/root/lp-site:$PWD LAYERPRUNE_HOME=${LAYERPRUNE_HOME:-/root/lphome} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
       TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
T=/root/lp-site; D=${LP_DATA:-/root/lpdata}; M=/root/lphome/models; R=${LP_RUNS:-/root/runs}; P=${LP_PROFILE:-full}  # LP_*: a local dry run
 mkdir -p /root/chunks $R/p3
install() { python3 bench/gpu/install_missing.py --target $T "$@"; }
busy() { pgrep -f "layerprune.cli|bench/eval.py|lmeval_runner|perf_report" > /dev/null; }
snapshot() {  # progress of every run, and its finished files (no adapters, checkpoints or merged weights)
  for d in $R/*/; do [ -d "$d/points" ] && echo "$(basename $d): $(ls $d/points | wc -l) points"; done
  for f in $R/*.log $R/p3/*.log; do [ -f "$f" ] && { echo "== $f"; grep -v -i "warn\|it/s\|^\s*$" "$f" | tail -3; }; done
  tar czf $OUT/runs.tgz --exclude='adapter' --exclude='checkpoint-*' --exclude='merged' -C $R . 2>/dev/null || true
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
}
fam_params() {  # $1 = zoo key, $2 = heal_ns (JSON list), $3 = micro batch of the heals
  echo "{\"family\": \"$1-full\", \"out_dir\": \"$R/$1-full\", \"device\": \"${LP_DEVICE:-cuda}\", \"data_dir\": \"$D\", \"c4_blocks\": 64,
    \"c4_len\": 1024, \"heal_ns\": $2, \"heal_profile\": \"gpu\", \"heal_overrides\": {\"steps\": 100, \"seq_len\": 1024,
    \"global_batch\": 16, \"micro_batch\": $3, \"warmup_steps\": 10, \"deterministic\": false}}"
}
figures() {  # the figure notebook through papermill, profile `full` (whole MMLU test set, all BoolQ), with fam_params
  python3 -c "import sys; from layerprune.cli import main; main(sys.argv[1:])" figures --family $1 --profile $P \
      --no-cross-family --params "$(fam_params $1 "$2" $3)"
}
case "$1" in
  setup) bash bench/gpu/setup.sh; for d in .gpu/lmA .gpu/pm; do [ -d $d ] && install $d/*.whl; done
         nvidia-smi > $OUT/nvidia-smi.txt; snapshot ;;
  chunk) mv .gpu/smol/smol.gguf.* .gpu/gem/gem.gguf.* .gpu/q15/q15.gguf.* .gpu/q05/q05.gguf.* /root/chunks/ 2>/dev/null || true
         ls /root/chunks | tr '\n' ' '; echo; snapshot ;;
  model) # $2 = zoo key, $3 = chunk prefix: assemble, verify the sha256, convert
         cat /root/chunks/$3.gguf.* > /root/$3.gguf && rm /root/chunks/$3.gguf.*
         python3 -c "import sys; from layerprune import zoo; print(zoo.fetch(sys.argv[1], gguf=sys.argv[2]))" $2 /root/$3.gguf
         rm /root/$3.gguf; snapshot ;;
  p3)    # $2 = zoo key, $3 = lm-eval batch: ours (kv-prefix) then lm-eval with our prompt, the whole MMLU test set, bf16
         setsid nohup python3 bench/eval.py --model $M/$2 --data $D --device cuda --dtype bfloat16 --subjects all --limit 0 \
             --boolq-limit -1 --batch-tokens 65536 --lmeval-python "$(command -v python3)" --lmeval-batch-size $3 \
             --skip-lmeval-default --skip-generic --out $R/p3/p3_$2_full_mmlu.json > $R/p3/p3_$2.log 2>&1 < /dev/null &
         sleep 20; snapshot ;;
  perf)  # $2 = zoo key: P1-P4 and the roofline on one model, one step after the other, nothing else on the GPU
         setsid nohup python3 bench/gpu/perf_report.py --model $M/$2 --data $D --out $R/perf --lmeval-python "$(command -v python3)" \
             > $R/perf.log 2>&1 < /dev/null &
         sleep 15; snapshot ;;
  fam)   # $2 = zoo key, $3 = heal_ns, $4 = heal micro batch; $5 (optional) = heal_ns of a first pass (e.g. [0.6] first)
         [ -d $R/$2-full ] || [ ! -d records/$2-full ] || cp -r records/$2-full $R/  # resume a committed run
         setsid nohup bash $0 famrun "${@:2}" > $R/$2-full.log 2>&1 < /dev/null &
         sleep 20; snapshot ;;
  famrun) if [ -n "$5" ]; then figures $2 "$5" $4; fi; figures $2 "$3" $4 ;;
  wait)  # $2 = seconds: wait while anything runs, then snapshot
         end=$((SECONDS + $2)); while [ $SECONDS -lt $end ] && busy; do sleep 5; done; snapshot ;;
  *) echo "unknown step $1"; exit 2 ;;
esac
