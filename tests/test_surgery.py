"Surgery: pruned models stay valid transformers checkpoints, compute what skipping the layers computes, generate with a cache."
import copy
import json
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM

from layerprune.models import ARCHITECTURES, get_layers, tiny_model
from layerprune.surgery import check_prunable, prune_block, prune_layers, pruning_record

# mixed sliding/full layer types where the architecture has them, so slicing layer_types matters
MIXED = ["full_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention"]
LAYER_TYPES = {"gemma2": MIXED, "gemma3_text": MIXED}


def tiny(model_type, n_layers=5, **kw):
    if model_type in LAYER_TYPES and n_layers == 5: kw.setdefault("layer_types", LAYER_TYPES[model_type])
    return tiny_model(model_type, n_layers=n_layers, **kw)


def ids(batch=2, length=12, seed=0):
    return torch.randint(3, 512, (batch, length), generator=torch.Generator().manual_seed(seed))


def greedy(model, prompt, use_cache, new=12):
    return model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new, do_sample=False,
                          use_cache=use_cache, pad_token_id=0)


class SkipLayer(nn.Module):
    "Passes the residual stream through unchanged: the reference for a removed layer."
    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


def skipped_reference(model, removed):
    ref = copy.deepcopy(model)
    layers = get_layers(ref)
    for i in removed: layers[i] = SkipLayer()
    return ref


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_round_trip_and_cache(model_type, tmp_path):
    model = tiny(model_type)
    before_types = getattr(model.config, "layer_types", None)
    pruned = prune_block(model, 1, 2, strategy="similarity", distance=0.125, source="tiny-" + model_type)
    # wiring and bookkeeping
    assert len(get_layers(pruned)) == 3 and pruned.config.num_hidden_layers == 3
    assert len(get_layers(model)) == 5 and model.config.num_hidden_layers == 5  # original untouched
    idx = [[m.layer_idx for m in layer.modules() if hasattr(m, "layer_idx")] for layer in get_layers(pruned)]
    assert all(ix and set(ix) == {i} for i, ix in enumerate(idx)), idx
    if before_types is not None:
        assert pruned.config.layer_types == [before_types[i] for i in (0, 3, 4)]
    # generation with a KV cache equals generation without (would fail with stale layer_idx)
    prompt = ids(1, 6)
    with_cache = greedy(pruned, prompt, True)
    torch.testing.assert_close(with_cache, greedy(pruned, prompt, False), rtol=0, atol=0)
    # the checkpoint reloads with plain transformers: same logits, same generation, the record kept
    pruned.save_pretrained(tmp_path)
    back = AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert type(back) is type(pruned) and len(get_layers(back)) == 3
    x = ids()
    with torch.no_grad():
        torch.testing.assert_close(back(x).logits, pruned(x).logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(greedy(back, prompt, True), with_cache, rtol=0, atol=0)
    rec = back.config.layerprune
    assert rec["removed_layers"] == [1, 2] and rec["kept_layers"] == [0, 3, 4] and rec["original_num_layers"] == 5
    assert rec["strategy"] == "similarity" and rec["distance"] == 0.125 and rec["source_model"] == "tiny-" + model_type
    assert AutoConfig.from_pretrained(tmp_path).num_hidden_layers == 3


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "opt", "phi", "gemma3_text", "qwen2"])
def test_equals_skipping_the_layers(model_type):
    model = tiny(model_type)
    x = ids(3, 10, seed=1)
    for removed in ([0], [2, 3], [1, 4], [4]):
        with torch.no_grad():
            got = prune_layers(model, removed)(x, use_cache=False).logits
            ref = skipped_reference(model, removed)(x, use_cache=False).logits
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_pruned_differs_from_original():
    "The equality above is not vacuous: removing a layer changes the output."
    model = tiny("llama")
    x = ids()
    with torch.no_grad():
        assert (prune_layers(model, [2])(x).logits - model(x).logits).abs().max() > 1e-3


def test_loads_without_layerprune(tmp_path):
    pruned = prune_layers(tiny("gemma3_text"), [0, 2], strategy="deepest")
    pruned.save_pretrained(tmp_path)
    x = ids(1, 8)
    with torch.no_grad(): want = pruned(x).logits[0, -1, :5].tolist()
    code = ("import sys, json, torch; from transformers import AutoModelForCausalLM; "
            f"m = AutoModelForCausalLM.from_pretrained({str(tmp_path)!r}, attn_implementation='eager'); "
            "assert not any(k.startswith('layerprune') for k in sys.modules); "
            f"x = torch.tensor({x.tolist()}); "
            "print(json.dumps([m(x).logits[0, -1, :5].tolist(), m.config.layerprune['removed_layers']]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got, removed = json.loads(out.stdout.strip().splitlines()[-1])
    assert removed == [0, 2]
    assert got == pytest.approx(want, abs=1e-5)


def test_qwen2_max_window_layers():
    model = tiny("qwen2", n_layers=6, max_window_layers=3)  # layers 0-2 full, 3-5 sliding
    pruned = prune_layers(model, [1, 4])
    assert pruned.config.layer_types == ["full_attention", "full_attention", "sliding_attention", "sliding_attention"]
    assert pruned.config.max_window_layers == 2
    recomputed = type(pruned.config)(**{**pruned.config.to_dict(), "layer_types": None})
    assert recomputed.layer_types == pruned.config.layer_types


def test_chained_pruning_keeps_original_numbering():
    model = tiny("llama", n_layers=8)
    once = prune_block(model, 2, 3, strategy="similarity", distance=0.3)  # removes 2,3,4 -> keeps 0,1,5,6,7
    twice = prune_layers(once, [2, 4], strategy="deepest")  # current 2, 4 = original 5, 7
    rec = pruning_record(twice)
    assert rec["removed_layers"] == [2, 3, 4, 5, 7] and rec["kept_layers"] == [0, 1, 6]
    assert rec["original_num_layers"] == 8 and rec["strategy"] == "deepest"
    assert [h["removed_layers"] for h in rec["history"]] == [[2, 3, 4], [5, 7]]
    assert [h["removed_positions"] for h in rec["history"]] == [[2, 3, 4], [2, 4]]
    assert [h["num_layers_before"] for h in rec["history"]] == [8, 5]
    assert pruning_record(model) is None and pruning_record(once)["kept_layers"] == [0, 1, 5, 6, 7]
    with torch.no_grad():  # and the twice-pruned model equals the original with those 5 layers skipped
        torch.testing.assert_close(twice(ids()).logits, skipped_reference(model, [2, 3, 4, 5, 7])(ids()).logits,
                                   atol=1e-5, rtol=1e-5)


def test_inplace():
    model = tiny("olmo2")
    layer0 = get_layers(model)[0]
    out = prune_layers(model, [3], inplace=True)
    assert out is model and len(get_layers(model)) == 4 and get_layers(model)[0] is layer0
    copied = prune_layers(model, [3])
    assert copied is not model and get_layers(copied)[0] is not layer0


@pytest.mark.parametrize("call, message", [
    (lambda m: prune_block(m, 0, 0), r"valid n is 1\.\.4"),
    (lambda m: prune_block(m, 0, -2), r"valid n is 1\.\.4"),
    (lambda m: prune_block(m, 0, 5), r"valid n is 1\.\.4"),
    (lambda m: prune_block(m, 3, 3), r"valid start is 0\.\.2"),
    (lambda m: prune_block(m, -1, 1), r"valid start is 0\.\.4"),
    (lambda m: prune_layers(m, [1, 1]), "more than once"),
    (lambda m: prune_layers(m, [5]), r"valid indices are 0\.\.4"),
    (lambda m: prune_layers(m, range(5)), r"remove at most 4"),
    (lambda m: prune_layers(m, []), "at least one"),
])
def test_bad_requests(call, message):
    model = tiny("llama")
    with pytest.raises(ValueError, match=message):
        call(model)
    assert len(get_layers(model)) == 5 and model.config.num_hidden_layers == 5


def test_refuses_layer_index_dependent_models():
    model = tiny_model("gpt2", n_layers=3, scale_attn_by_inverse_layer_idx=True)
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        prune_layers(model, [1])
    check_prunable(tiny_model("gpt2", n_layers=3))  # the default (False) is fine


def test_warns_about_unknown_per_layer_lists():
    model = tiny("llama")
    model.config.my_layer_scales = [1.0] * 5
    with pytest.warns(UserWarning, match="my_layer_scales"):
        pruned = prune_layers(model, [0])
    assert pruned.config.my_layer_scales == [1.0] * 5  # left alone: we do not know what it means
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prune_layers(tiny("gemma2"), [0])  # known lists give no warning


@pytest.mark.slow
def test_smollm2_round_trip(smollm2_dir, tmp_path):
    from layerprune.models import load_model
    model = load_model(smollm2_dir)
    pruned = prune_block(model, 23, 6, strategy="deepest", inplace=True)
    pruned.save_pretrained(tmp_path)
    back = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert back.config.num_hidden_layers == 24 and back.config.layerprune["removed_layers"] == list(range(23, 29))
    x = torch.tensor([[504, 3575, 282, 4649, 314]])  # "The capital of France is" in the SmolLM2 vocabulary
    with torch.no_grad():
        torch.testing.assert_close(back(x).logits, pruned(x).logits, atol=1e-4, rtol=1e-4)
    prompt = x[:, :4]
    torch.testing.assert_close(greedy(pruned, prompt, True, new=6), greedy(pruned, prompt, False, new=6), rtol=0, atol=0)
