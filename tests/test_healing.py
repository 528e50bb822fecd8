"Healing (layerprune.healing): LoRA/QLoRA training on tiny random models; one short real-model check."
import csv
import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from layerprune.families import BUDGETS, FAMILIES
from layerprune.healing import (HealConfig, block_order, heal, heal_config, is_4bit,
                                load_adapter, lora_module_names, mean_token_loss, residual_at)
from layerprune.models import load_model, tiny_model
from layerprune.surgery import prune_block

MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def pattern_blocks(n_blocks=8, seq_len=64, seed=0):
    "Blocks of one short random pattern, repeated: easy to learn."
    g = torch.Generator().manual_seed(seed)
    pattern = torch.randint(3, 512, (16,), generator=g)
    return pattern.repeat(n_blocks, seq_len // 16)


def random_blocks(n_blocks, seq_len=32, seed=1):
    return torch.randint(3, 512, (n_blocks, seq_len), generator=torch.Generator().manual_seed(seed))


def small(**kw):
    base = dict(steps=8, seq_len=32, global_batch=4, micro_batch=2, lr=1e-2, warmup_steps=2, rank=4, quantize=None)
    return HealConfig(**{**base, **kw})


def test_paper_table_matches_app_a1():
    rows = {k: (f.n_layers, f.seq_len, f.lr, f.rank) for k, f in FAMILIES.items() if f.paper}
    assert rows == {"llama-2-7b": (32, 2048, 3e-4, 2), "llama-2-13b": (40, 4096, 3e-4, 64),
                    "llama-2-70b": (80, 4096, 3e-5, 8), "qwen-7b": (32, 2048, 3e-4, 64),
                    "qwen-14b": (40, 4096, 3e-4, 64), "mistral-7b": (32, 2048, 3e-6, 4),
                    "phi-2": (32, 2048, 2e-4, 64)}
    cfg = heal_config("mistralai/Mistral-7B-v0.1")
    assert (cfg.steps, cfg.global_batch, cfg.warmup_steps, cfg.seed, cfg.dropout, cfg.lora_alpha) == (5000, 16, 100, 0, 0.05, 4)
    assert cfg.quantize == "nf4" and cfg.gradient_checkpointing
    zoo = {k for k, f in FAMILIES.items() if f.zoo}
    assert zoo == {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    for key in zoo:
        for budget in BUDGETS: heal_config(key, budget)  # every budget of a zoo family is a valid config


def test_loss_decreases():
    res = heal(tiny_model("llama"), pattern_blocks(seq_len=64), small(steps=30, seq_len=64, rank=8), progress=False)
    losses = [r["loss"] for r in res.log]
    assert len(losses) == 30
    assert losses[-1] < losses[0] - 1.0
    assert sum(losses[-5:]) < sum(losses[:5])


def test_lr_schedule_is_cosine_with_warmup():
    res = heal(tiny_model("llama"), random_blocks(8), small(steps=10, warmup_steps=2, lr=1e-2), progress=False)
    lrs = [r["lr"] for r in res.log]
    assert lrs[:3] == pytest.approx([0.0, 5e-3, 1e-2])                      # linear warm-up from 0
    assert lrs[5] == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * 3 / 8)))  # cosine after it


def test_adapter_round_trip_and_merge(tmp_path):
    x = random_blocks(3, 32, seed=5)
    res = heal(tiny_model("llama"), random_blocks(8), small(), out_dir=tmp_path, merge=True, progress=False)
    healed = res.model(x).logits
    assert not torch.allclose(healed, tiny_model("llama")(x).logits, atol=1e-4)   # training changed the function
    reloaded = load_adapter(tiny_model("llama"), tmp_path / "adapter")
    assert torch.equal(reloaded(x).logits, healed)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32).eval()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert (merged(x).logits - healed).abs().max() <= 1e-4


def test_outputs_and_metadata(tmp_path):
    train, held_out = random_blocks(8), random_blocks(3, seed=9)
    res = heal(tiny_model("llama"), train, small(steps=5), eval_data=held_out, out_dir=tmp_path,
               train_source={"source": "random", "role": "heal"}, eval_source={"source": "random", "role": "eval"},
               progress=False)
    m = res.metadata
    assert m["val_loss_before"] == pytest.approx(mean_token_loss(tiny_model("llama"), held_out), abs=1e-6)
    assert m["val_loss_after"] == pytest.approx(mean_token_loss(res.model, held_out), abs=1e-6)
    assert m["train_text"]["role"] == "heal" and m["train_text"]["n_blocks"] == 8
    assert m["eval_text"]["role"] == "eval" and m["eval_text"]["n_blocks"] == 3
    assert m["train_text"]["blocks_sha256"] != m["eval_text"]["blocks_sha256"]
    assert m["tokens_seen"] == 5 * 4 * 32 and m["epochs"] == pytest.approx(20 / 8)
    assert m["completed"] and m["peak_memory_bytes"] > 0 and m["tokens_per_s"] > 0
    with open(tmp_path / "log.csv") as f: rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert [float(r["loss"]) for r in rows] == pytest.approx([r["loss"] for r in res.log])
    assert int(rows[-1]["tokens"]) == 5 * 4 * 32
    assert not list(tmp_path.glob("checkpoint-*"))                         # removed once the run completed


def test_refuses_overlapping_eval_text():
    train = random_blocks(8)
    with pytest.raises(ValueError, match="disjoint"):
        heal(tiny_model("llama"), train, small(steps=2), eval_data=train[5:], progress=False)


def test_data_order_is_seeded_and_covers_each_epoch():
    a = block_order(10, seed=3, start=0, count=30)
    assert torch.equal(a, torch.cat([block_order(10, 3, 0, 13), block_order(10, 3, 13, 17)]))
    for e in range(3): assert sorted(a[10 * e:10 * e + 10].tolist()) == list(range(10))


@pytest.mark.parametrize("interrupt", ["exception", "stop_after"])
def test_resume_matches_uninterrupted_run(tmp_path, interrupt):
    train, cfg = random_blocks(6), small(steps=8, checkpoint_every=3, dropout=0.1)
    full = heal(tiny_model("llama"), train, cfg, out_dir=tmp_path / "full", progress=False)

    def kill_at_7(step, row):
        if step == 7: raise KeyboardInterrupt("simulated kill")
    part = tmp_path / "part"
    if interrupt == "exception":
        with pytest.raises(KeyboardInterrupt):
            heal(tiny_model("llama"), train, cfg, out_dir=part, callback=kill_at_7, progress=False)
        assert [p.name for p in part.glob("checkpoint-*")] == ["checkpoint-0000006"]
    else:
        first = heal(tiny_model("llama"), train, cfg, out_dir=part, stop_after=5, progress=False)
        assert not first.metadata["completed"] and len(first.log) == 5
    resumed = heal(tiny_model("llama"), train, cfg, out_dir=part, progress=False)
    assert resumed.metadata["resumed_from_step"] == (6 if interrupt == "exception" else 5)
    assert [r["loss"] for r in resumed.log] == pytest.approx([r["loss"] for r in full.log], abs=1e-6)
    assert resumed.log[-1]["loss"] == pytest.approx(full.log[-1]["loss"], abs=1e-6)
    sd_full, sd_res = full.model.state_dict(), resumed.model.state_dict()
    for k in sd_full:
        if "lora_" in k: assert torch.allclose(sd_full[k], sd_res[k], atol=1e-6, rtol=0), k
    with open(part / "log.csv") as f: assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 9))


def test_resume_refuses_changed_config(tmp_path):
    train = random_blocks(6)
    heal(tiny_model("llama"), train, small(steps=8), out_dir=tmp_path, stop_after=2, progress=False)
    with pytest.raises(ValueError, match="lr"):
        heal(tiny_model("llama"), train, small(steps=8, lr=5e-3), out_dir=tmp_path, progress=False)


def test_nf4_qlora_path_on_cpu(tmp_path):
    base_dir = tmp_path / "base"
    tiny_model("llama").save_pretrained(base_dir)
    x = random_blocks(2, 32, seed=5)
    res = heal(base_dir, random_blocks(8), small(steps=3, quantize="nf4"), out_dir=tmp_path / "out", merge=True, progress=False)
    base = res.model.get_base_model()
    assert is_4bit(base)
    assert type(base.model.layers[0].mlp.gate_proj.base_layer).__name__ == "Linear4bit"
    expected = {n for n, _ in base.named_modules() if n.endswith(MLP)}
    assert set(lora_module_names(res.model)) == expected and len(expected) == 12
    trainable = {n for n, p in res.model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in res.log)
    # the merged model adds the adapter to the full-precision base: close to the 4-bit adapter model, not equal
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "merged", dtype=torch.float32).eval()
    diff = (merged(x).logits - res.model(x).logits).abs()
    assert 0 < diff.max() < 0.5
    reloaded = load_adapter(base_dir, tmp_path / "out" / "adapter", quantize="nf4")
    assert torch.allclose(reloaded(x).logits, res.model(x).logits, atol=1e-5)


def test_aux_loss_first_step_equals_direct_computation():
    teacher = tiny_model("llama", n_layers=6)
    student = prune_block(teacher, 2, 2)
    train, cfg = random_blocks(8), small(steps=2, global_batch=2, micro_batch=2, aux_weight=0.1)
    first = train[block_order(8, cfg.seed, 0, 2)]
    hs = teacher(first, output_hidden_states=True).hidden_states
    direct = (hs[4] - hs[2]).pow(2).sum(-1).mean().item()   # before healing the student's x^2 is the teacher's x^2
    res = heal(student, train, cfg, teacher=teacher, cut=(2, 2), progress=False)
    assert res.log[0]["aux_loss"] == pytest.approx(direct, rel=1e-4)
    assert res.metadata["aux"] == {"weight": 0.1, "cut": [2, 2]}
    with pytest.raises(ValueError, match="does not fit"):
        heal(prune_block(teacher, 2, 2), train, cfg, teacher=teacher, cut=(2, 3), progress=False)


def test_residual_at_is_the_layer_input():
    m = tiny_model("llama", n_layers=3)
    x = random_blocks(2, 16)
    hs = m(x, output_hidden_states=True).hidden_states
    for l in range(3): assert torch.allclose(residual_at(m, x, l), hs[l], atol=1e-6)


@pytest.mark.slow
def test_heal_real_smollm2_two_steps(smollm2_dir, tmp_path):
    "The real model through the full-precision LoRA path (NF4 is tested on the tiny model: quantizing SmolLM2 on CPU takes ~25 s)."
    from layerprune.healing import pack_documents
    from layerprune.models import load_tokenizer
    pruned = prune_block(load_model(smollm2_dir), 22, 7, inplace=True)      # the deepest baseline, 7 of 30 layers
    tok = load_tokenizer(smollm2_dir)
    texts = ["The quick brown fox jumps over the lazy dog. " * 8, "A healing run needs text; this is some. " * 8]
    held_out = pack_documents(["Layer pruning removes a block of layers from a transformer. " * 8], tok, 32)
    before = mean_token_loss(pruned, held_out)
    cfg = HealConfig(steps=2, seq_len=32, global_batch=2, micro_batch=2, warmup_steps=0, rank=8, lr=1e-3, quantize=None)
    res = heal(pruned, texts, cfg, tokenizer=tok, eval_data=held_out, out_dir=tmp_path, progress=False)
    assert len(res.metadata["model"]["lora_modules"]) == 23 * 3 and res.metadata["model"]["num_layers"] == 23
    assert res.metadata["val_loss_before"] == pytest.approx(before, abs=1e-5)   # LoRA starts as the identity
    assert res.metadata["val_loss_after"] != before
    assert res.metadata["train_text"]["n_docs_used"] == 2 and res.metadata["train_text"]["n_blocks"] >= 2
    assert (tmp_path / "adapter" / "adapter_config.json").exists()


def test_gradient_checkpointing_changes_nothing_but_memory():
    train = random_blocks(8)
    plain = heal(tiny_model("llama"), train, small(steps=4, dropout=0.1), progress=False)
    ckpt = heal(tiny_model("llama"), train, small(steps=4, dropout=0.1, gradient_checkpointing=True), progress=False)
    assert ckpt.model.get_base_model().is_gradient_checkpointing
    assert plain.log[-1]["loss"] != plain.log[0]["loss"]                  # it trained
    assert [r["loss"] for r in ckpt.log] == pytest.approx([r["loss"] for r in plain.log], abs=1e-5)


def test_three_steps_give_the_known_numbers(tmp_path):
    "Known values, computed with the loop before its rewrite into small pieces (issue 16): the numbers stay the same."
    train, held_out = random_blocks(6, seed=1), random_blocks(3, seed=9)
    cfg = small(steps=3, lr=0.1, warmup_steps=0)  # dropout 0.05: the RNG stream is part of what must not change
    res = heal(tiny_model("llama"), train, cfg, eval_data=held_out, out_dir=tmp_path, progress=False)
    assert [r["loss"] for r in res.log] == pytest.approx([6.257364749908447, 6.202939748764038, 6.149620294570923], abs=1e-6)
    assert [r["grad_norm"] for r in res.log] == pytest.approx([0.03335384279489517, 0.1063983365893364, 0.30225038528442383], rel=1e-5)
    assert [r["lr"] for r in res.log] == pytest.approx([0.1, 0.075, 0.025])
    assert [res.metadata["val_loss_before"], res.metadata["val_loss_after"]] == pytest.approx([6.261499722798665, 6.256529490152995], abs=1e-6)
    assert list(res.log[0]) == ["step", "loss", "lr", "tokens", "seconds", "grad_norm", "aux_loss"]
    assert list(res.metadata) == [
        "completed", "steps_done", "resumed_from_step", "config", "model", "train_text", "eval_text", "tokens_seen", "epochs",
        "val_loss_before", "val_loss_after", "val_loss_unit", "aux", "train_seconds", "tokens_per_s", "wall_seconds",
        "peak_memory_bytes", "peak_memory_kind", "micro_batch_used", "oom_backoffs", "device", "processes", "compute_dtype",
        "finished_at", "versions", "adapter_dir", "merged_dir", "log_csv"]
    teacher = tiny_model("llama", n_layers=6)  # the same with the auxiliary loss (eq. 8 footnote)
    aux = heal(prune_block(teacher, 2, 2), train, small(steps=3, lr=0.1, warmup_steps=0, aux_weight=0.01),
               teacher=teacher, cut=(2, 2), progress=False)
    assert [r["loss"] for r in aux.log] == pytest.approx([6.2769246101379395, 6.221556186676025, 6.152321100234985], abs=1e-6)
    assert [r["aux_loss"] for r in aux.log] == pytest.approx([0.036907026544213295, 0.03781777247786522, 0.08376926183700562], rel=1e-5)
    assert [r["grad_norm"] for r in aux.log] == pytest.approx([0.03484077379107475, 0.11377783119678497, 0.32876718044281006], rel=1e-5)
