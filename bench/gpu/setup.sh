# On the GPU machine, first call: wheels the image lacks (bitsandbytes, gguf) or has older (transformers 5.17 -> 5.24)
# into /root/lp-site, which goes first on PYTHONPATH; the data tarball into /root/lpdata. Idempotent.
set -e
T=/root/lp-site; mkdir -p $T /root/lpdata /root/chunks
for w in .gpu/wheels_bnb/*.whl .gpu/wheels_min/*.whl; do
  [ -f "$w" ] && python3 -m pip install -q --no-index --no-deps --target "$T" "$w" 2>&1 | grep -v -i warning || true
done
[ -f .gpu/data/data.tgz ] && tar xzf .gpu/data/data.tgz -C /root/lpdata
export PYTHONPATH=$T:$PWD
python3 -c "import torch, transformers, peft, bitsandbytes, gguf; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'bnb', bitsandbytes.__version__, torch.cuda.get_device_name())"
