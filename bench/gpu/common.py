"""What the issue-18/19 GPU scripts share: the NCCL environment, timing, memory, the random paper-shaped
models' configs (with the SmolLM2 vocabulary), C4 documents by role, and the one JSON summary each prints."""
from __future__ import annotations
import json, os, platform, sys, time
from pathlib import Path

# NCCL's NVLink multicast stays off in every process (the device notes); set before torch.distributed starts
NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
for _k, _v in NCCL_ENV.items(): os.environ[_k] = _v

import torch

# --tiny: the same code paths at a shape the CPU runs in seconds (head_dim 8, GQA kept where the model has it)
TINY_SHAPE = dict(num_hidden_layers=8, hidden_size=64, num_attention_heads=8, intermediate_size=96)
GiB = 2**30


def sync():
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()): torch.cuda.synchronize(i)


def timed(f):
    "(f(), seconds), the GPUs synchronised before the clock stops."
    sync(); t = time.perf_counter(); out = f(); sync()
    return out, round(time.perf_counter() - t, 4)


def reset_peaks():
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            try: torch.cuda.reset_peak_memory_stats(i)
            except RuntimeError: pass  # no allocation on device i yet: nothing to reset


def memory() -> dict:
    "GiB allocated now and at peak, per CUDA device ({} on a CPU machine)."
    if not torch.cuda.is_available(): return {}
    return {f"cuda:{i}": dict(allocated_gib=round(torch.cuda.memory_allocated(i) / GiB, 3),
                              max_allocated_gib=round(torch.cuda.max_memory_allocated(i) / GiB, 3))
            for i in range(torch.cuda.device_count())}


def free():
    import gc; gc.collect()
    if torch.cuda.is_available(): torch.cuda.empty_cache()


MATMUL_KERNELS = ("gemm", "nvjet", "cutlass", "aten::mm", "aten::addmm", "aten::bmm")  # names of matmul kernels/ops


def kernel_table(prof, dev: str, top: int = 15) -> dict:
    """The `top` entries by self time of a torch.profiler run, and the matmuls' share of all: on a GPU the CUDA kernels
    alone (the operators that launch them report the same time again; the profiler's step spans are no kernels), on a CPU
    the operators."""
    from torch.autograd import DeviceType
    if dev == "cuda": evs, t = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA], (lambda e: e.self_device_time_total)
    else: evs, t = list(prof.key_averages()), (lambda e: e.self_cpu_time_total)
    mark = lambda e: getattr(e, "is_user_annotation", False) or e.key.startswith("ProfilerStep")  # noqa: E731 (a span, not a kernel)
    evs = sorted((e for e in evs if t(e) > 0 and not mark(e)), key=lambda e: -t(e))
    total = sum(t(e) for e in evs)
    mm = sum(t(e) for e in evs if any(k in e.key.lower() for k in MATMUL_KERNELS))
    return dict(total_ms=round(total / 1e3, 2), matmul_share=round(mm / total, 4) if total else None,
                kernels=[dict(name=e.key[:120], calls=e.count, ms=round(t(e) / 1e3, 3), share=round(t(e) / total, 4))
                         for e in evs[:top]])


def max_abs(a, b) -> float:
    return float((a.double().cpu() - b.double().cpu()).abs().max())


def machine() -> dict:
    import transformers
    d = dict(python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
             host=platform.node(), gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])
    try:
        import accelerate, peft; d.update(accelerate=accelerate.__version__, peft=peft.__version__)
    except ImportError: pass
    try:
        import bitsandbytes; d["bitsandbytes"] = bitsandbytes.__version__
    except ImportError: pass
    return d


def random_config(name: str, tokenizer, tiny: bool = False, **overrides):
    """`layerprune.models.paper_config(name)` with the tokenizer's vocabulary (SmolLM2: 49,152 tokens, not Llama's
    32,000) and token ids; `tiny` keeps the family but shrinks it to `TINY_SHAPE` (GQA ratio kept)."""
    from layerprune.models import PAPER_CONFIGS, paper_config
    base = PAPER_CONFIGS[name]
    kw = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
              pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    if tiny:
        kw.update(TINY_SHAPE, num_key_value_heads=TINY_SHAPE["num_attention_heads"] * base["num_key_value_heads"]
                  // base["num_attention_heads"])
    return paper_config(name, vocab_size=len(tokenizer), **{**kw, **overrides})


def c4_role(data_dir, role: str, n: int | None = None) -> list[str]:
    "The C4 validation sample's documents of one role (`layerprune.data.C4_ROLES`: heal, distances, loss)."
    from layerprune import data as D
    docs = D.split_documents(D.load_c4("validation", Path(data_dir) / "c4"))[role]
    return docs[:n] if n else docs


def finish(summary: dict, out: str | Path, name: str) -> dict:
    "Write `summary` to OUT/NAME.json and print it: the one JSON summary of a script."
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    summary.setdefault("machine", machine())
    summary.setdefault("command", " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]))
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str), flush=True)
    return summary


def qlora_microsteps(model, rank: int, seq_len: int, micro_batch: int, n: int, global_batch: int = 16,
                     gradient_checkpointing: bool = True, seed: int = 0) -> dict:
    """LoRA rank `rank` on the MLP (`layerprune.healing.add_lora`, as `heal` does) of a (4-bit) model, then `n` timed
    forward+backward micro steps of [micro_batch, seq_len] random tokens and one AdamW step; the first micro step is
    the warm-up. Returns tokens/s, the time of one optimizer step of `global_batch` sequences, and the peak memory."""
    from layerprune.healing import HealConfig, add_lora
    dev = next(p for p in model.parameters() if p.device.type != "meta").device
    cfg = HealConfig(rank=rank, seq_len=seq_len, micro_batch=micro_batch, global_batch=global_batch, quantize="nf4",
                     gradient_checkpointing=gradient_checkpointing, seed=seed, steps=1, warmup_steps=0)
    pm, t_lora = timed(lambda: add_lora(model, cfg))
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    ac = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else __import__("contextlib").nullcontext()
    pm.train(); reset_peaks()
    times, losses = [], []
    for _ in range(n):
        ids = torch.randint(3, vocab, (micro_batch, seq_len), generator=g).to(dev)
        def step():
            with ac: loss = pm(input_ids=ids, labels=ids, use_cache=False).loss
            (loss / (global_batch // micro_batch)).backward()
            return loss.item()
        loss, t = timed(step); times.append(t); losses.append(loss)
    _, t_opt = timed(lambda: (opt.step(), opt.zero_grad(set_to_none=True)))
    steady = times[1:] or times
    t_micro = sum(steady) / len(steady)
    return dict(rank=rank, seq_len=seq_len, micro_batch=micro_batch, micro_steps=n, gradient_checkpointing=gradient_checkpointing,
                trainable_params=sum(p.numel() for p in params), add_lora_s=t_lora, micro_step_s=times, optimizer_step_s=t_opt,
                losses=losses, tokens_per_s=round(micro_batch * seq_len / t_micro, 1),
                paper_step_s=round(global_batch // micro_batch * t_micro + t_opt, 3), paper_step_tokens=global_batch * seq_len,
                memory=memory())
