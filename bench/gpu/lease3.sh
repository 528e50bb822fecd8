# Third GPU lease (2026-11-25, evening): SmolLM2-135M through the full protocol (issue 7), P3 on the GPU
# (issue 4), the few-hundred-step heal and P4 after the memory fix (issue 5). One step per `device` call,
# calls back to back on one warm machine; what each step carried is in bench/gpu/README.md.
#   bash bench/gpu/lease3.sh STEP
set -e
export PYTHONPATH=/root/lp-site:$PWD LAYERPRUNE_HOME=/root/lphome HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
T=/root/lp-site; C4=/root/lpdata/c4/c4-validation.sample-2k.json.gz; R=/root/runs; mkdir -p $R /root/chunks
install() { python3 bench/gpu/install_missing.py --target $T "$@"; }
case "$1" in
  setup) bash bench/gpu/setup.sh; python3 -m pip list > $OUT/piplist.txt 2>/dev/null; nvidia-smi > $OUT/nvidia-smi.txt ;;
  chunk) mv .gpu/smol/smol.gguf.* /root/chunks/ 2>/dev/null || true; for d in .gpu/pm .gpu/lmA .gpu/lmB .gpu/lmC; do [ -d $d ] && install $d/*.whl; done; ls -la /root/chunks ;;
  model) cat /root/chunks/smol.gguf.* > /root/smol.gguf
         python3 -c "from layerprune import zoo; print(zoo.fetch('smollm2-135m', gguf='/root/smol.gguf'))" ;;
  *) echo "unknown step $1"; exit 2 ;;
esac
