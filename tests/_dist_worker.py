"""Run by tests/test_distributed.py under `torchrun --nproc_per_node 2` (gloo on CPUs).

Every process runs the data-parallel evaluation and healing; then rank 0 alone runs the one-process
references (same thread count, same code as a user would call) and every process saves what it got.
Usage: torchrun --nproc_per_node 2 tests/_dist_worker.py CHECKPOINT_DIR DATA_DIR OUT_DIR
"""
import sys
from pathlib import Path

import torch
from layerprune import data as D, eval as E
from layerprune import distributed as DP
from layerprune.healing import HealConfig, heal
from layerprune.models import load_model, load_tokenizer, tiny_model

ckpt, data_dir, out = (Path(a) for a in sys.argv[1:4])
state = DP.process_state()
rank = state.process_index
assert state.num_processes == 2, f"expected a 2-process launch, got {state.num_processes}"

model, tok = load_model(ckpt), load_tokenizer(ckpt)
subjects = ["abstract_algebra", "anatomy", "college_physics"]
mmlu_test = D.load_mmlu("test", data_dir / "mmlu", subjects=subjects)
mmlu_dev = D.load_mmlu("dev", data_dir / "mmlu", subjects=subjects)
boolq = D.load_boolq("validation", data_dir / "boolq")
blocks = torch.randint(3, model.config.vocab_size, (7, 24), generator=torch.Generator().manual_seed(0))
mmlu_kw = dict(k=5, limit=3, seed=0, batch_tokens=2048, progress=False)
boolq_kw = dict(limit=12, seed=0, batch_tokens=1024, progress=False)

got = dict(
    mmlu=DP.dp_mmlu_eval(model, tok, mmlu_test, mmlu_dev, state=state, **mmlu_kw),
    mmlu_plain=DP.dp_mmlu_eval(model, tok, mmlu_test, mmlu_dev, use_prefix_cache=False, state=state, **mmlu_kw),
    boolq=DP.dp_boolq_eval(model, tok, boolq, state=state, **boolq_kw),
    c4=DP.dp_c4_loss(model, blocks, 2, progress=False, state=state),
)
DP.write_results({k: r.to_row() for k, r in got.items()}, out / "results.csv", state=state)

# healing: 2 processes x micro batch 2 (global batch 4), dropout 0
from accelerate import Accelerator
heal_blocks = torch.randint(3, 512, (8, 32), generator=torch.Generator().manual_seed(1))
cfg = HealConfig(steps=4, seq_len=32, global_batch=4, micro_batch=2, lr=1e-2, warmup_steps=1, rank=4, dropout=0.0,
                 quantize=None)
res = heal(tiny_model("llama"), heal_blocks, cfg, out_dir=out / "heal", progress=False, accelerator=Accelerator(cpu=True))
got["heal_log"] = res.log
got["heal_meta_processes"] = res.metadata["processes"]

if rank == 0:  # the one-process references, in this same process (same threads)
    ref = dict(
        mmlu=E.mmlu_eval(model, tok, mmlu_test, mmlu_dev, **mmlu_kw),
        mmlu_plain=E.mmlu_eval(model, tok, mmlu_test, mmlu_dev, use_prefix_cache=False, **mmlu_kw),
        boolq=E.boolq_eval(model, tok, boolq, **boolq_kw),
        c4=E.c4_loss(model, blocks, 2, progress=False),
    )
    ref["heal_log"] = heal(tiny_model("llama"), heal_blocks, cfg, progress=False).log
    torch.save(ref, out / "reference.pt")
torch.save(got, out / f"rank{rank}.pt")
