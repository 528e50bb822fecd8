# Third GPU lease (2026-11-25, evening): P3 on the GPU (issue 4: SmolLM2-135M and Gemma-3-270M, the whole MMLU
# test set, ours vs lm-eval) and P4 after the memory fix (issue 5). The 300-step SmolLM2 heal and the cuda:0+cpu
# split check (issue 8) ran as the commands given in bench/RESULTS.md. One step per `device` call, calls back to back on one warm machine
# (it goes back after 30 s idle); what each call carried is in bench/gpu/README.md.
#   bash bench/gpu/lease3.sh STEP [ARG]
set -e
export PYTHONPATH=/root/lp-site:$PWD LAYERPRUNE_HOME=/root/lphome HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
T=/root/lp-site; D=/root/lpdata; C4=$D/c4/c4-validation.sample-2k.json.gz; M=/root/lphome/models; mkdir -p /root/chunks /root/runs
install() { python3 bench/gpu/install_missing.py --target $T "$@"; }
case "$1" in
  setup) bash bench/gpu/setup.sh; nvidia-smi > $OUT/nvidia-smi.txt ;;
  chunk) mv .gpu/smol/smol.gguf.* .gpu/gem/gem.gguf.* /root/chunks/ 2>/dev/null || true
         for d in .gpu/lmA; do [ -d $d ] && install $d/*.whl; done; ls /root/chunks ;;
  model) # $2 = zoo key, $3 = chunk prefix
         cat /root/chunks/$3.gguf.* > /root/$3.gguf
         python3 -c "import sys; from layerprune import zoo; print(zoo.fetch(sys.argv[1], gguf=sys.argv[2]))" $2 /root/$3.gguf ;;
  p4)    python3 bench/healing.py --model smollm2-135m --prune-deepest 7 --data $C4 --steps 60 --seq-len 1024 --batch 16 \
             --out $OUT/p4_compare_nf4.json 2>&1 | grep -v -i warn | tail -4 ;;
  p3)    # $2 = zoo key: the whole MMLU test set, 5-shot, ours (kv-prefix) and lm-eval with our prompt, bf16
         python3 bench/eval.py --model $M/$2 --data $D --device cuda --dtype bfloat16 --subjects all --limit 0 \
             --boolq-limit -1 --batch-tokens 65536 --lmeval-python "$(command -v python3)" --lmeval-batch-size ${3:-64} \
             --skip-lmeval-default --skip-generic --out $OUT/p3_$2_full_mmlu.json 2>&1 | grep -v -i "warn\|it/s" | tail -6 ;;
  *) echo "unknown step $1"; exit 2 ;;
esac
