"Tests of layerprune.eval: prompts, answer tokens, shot dropping, fast scorers vs the slow reference, aggregation, C4 loss."
import math
from types import SimpleNamespace

import pytest
import torch

from layerprune import eval as ev
from layerprune import scoring as sc
from layerprune.data import load_boolq, load_mmlu
from layerprune.models import load_model, load_tokenizer, tiny_model


# ---------------------------------------------------------------- data: the real copies, through layerprune.data
SUBJECTS = ("anatomy", "high_school_physics")


@pytest.fixture(scope="module")
def tok(smollm2_dir):
    return load_tokenizer(smollm2_dir)


@pytest.fixture(scope="module")
def mmlu(data_dir):
    return (load_mmlu("test", data_dir / "mmlu", subjects=SUBJECTS), load_mmlu("dev", data_dir / "mmlu", subjects=SUBJECTS))


# ---------------------------------------------------------------- prompts
def test_mmlu_prompt_is_the_original_text():
    dev = [SimpleNamespace(subject="college_physics", question="Q1?", choices=("a", "b", "c", "d"), answer=2),
           SimpleNamespace(subject="college_physics", question="Q2", choices=("1", "2", "3", "4"), answer=0)]
    q = SimpleNamespace(subject="college_physics", question="Q3?", choices=("w", "x", "y", "z"), answer=1)
    expected = ("The following are multiple choice questions (with answers) about  college physics.\n\n"
                "Q1?\nA. a\nB. b\nC. c\nD. d\nAnswer: C\n\n"
                "Q2\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: A\n\n"
                "Q3?\nA. w\nB. x\nC. y\nD. z\nAnswer:")
    assert ev.mmlu_prompt(q, dev, k=2) == expected
    assert ev.mmlu_prompt(q, dev, k=1) == expected.replace("Q2\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: A\n\n", "")


def test_boolq_prompt():
    ex = SimpleNamespace(passage="Paris -- capital of France.", question="is paris in france", label=True, idx=0)
    assert ev.boolq_prompt(ex) == "Paris -- capital of France.\nQuestion: is paris in france?\nAnswer:"


# ---------------------------------------------------------------- answer tokens
def test_answer_tokens_smollm2(tok):
    ids, rule = ev.answer_token_ids(tok, ev.LETTERS)
    assert rule == "in-context"
    assert tok.convert_ids_to_tokens(list(ids)) == ["ĠA", "ĠB", "ĠC", "ĠD"]
    # the token the model saw after "Answer:" in the shots
    assert tok("Answer: C", add_special_tokens=False)["input_ids"][-1] == ids[2]
    no_yes, _ = ev.answer_token_ids(tok, ("no", "yes"))
    assert tok.convert_ids_to_tokens(list(no_yes)) == ["Ġno", "Ġyes"]


class CharTokenizer:
    "One token per character, plus a BOS in front: ' A' is two tokens, so the rule falls back to 'A'."
    def __call__(self, text, add_special_tokens=True):
        if isinstance(text, list): return {"input_ids": [self(t, add_special_tokens)["input_ids"] for t in text]}
        return {"input_ids": ([1] if add_special_tokens else []) + [ord(c) for c in text]}


def test_answer_tokens_fallback_and_bos():
    t = CharTokenizer()
    assert ev.answer_token_ids(t, ev.LETTERS) == ((65, 66, 67, 68), "bare")
    assert ev.special_prefix(t) == [1]
    assert ev.encode(t, ["ab"]) == [[1, 97, 98]]
    with pytest.raises(ValueError, match="neither one token"):
        ev.answer_token_ids(t, ("no", "yes"))


# ---------------------------------------------------------------- shots dropped to fit
def test_dropped_shots_keep_the_first_dev_examples(tok, mmlu):
    test, dev = mmlu
    q = test[0]
    shots = [d for d in dev if d.subject == q.subject]
    lengths = {k: len(ev.encode(tok, [ev.mmlu_prompt(q, shots, k)])[0]) for k in range(6)}
    assert all(lengths[k] < lengths[k + 1] for k in range(5))
    item, = ev.mmlu_items(tok, [q], dev, k=5, max_length=lengths[3] + 1)  # room for 3 shots, not 4
    assert item.shots == 3
    assert item.input_ids == ev.encode(tok, [ev.mmlu_prompt(q, shots[:3], 3)])[0]
    assert ev.mmlu_items(tok, [q], dev, k=5, max_length=lengths[5])[0].shots == 5
    with pytest.raises(ValueError, match="0-shot"):
        ev.mmlu_items(tok, [q], dev, k=5, max_length=lengths[0] - 1)
    with pytest.raises(ValueError, match="fewer than k=6"):
        ev.mmlu_items(tok, [q], dev, k=6)


def test_dropped_shots_are_reported(tok, mmlu):
    test, dev = mmlu
    qs = [test[0], test[-1]]
    model = tiny_model("llama", vocab_size=len(tok), max_position_embeddings=2048)
    full = [len(x) for x in ev.encode(tok, [ev.mmlu_prompt(q, [d for d in dev if d.subject == q.subject]) for q in qs])]
    res = ev.mmlu_eval(model, tok, qs, dev, max_length=min(full) - 1, progress=False)
    items = ev.mmlu_items(tok, qs, dev, max_length=min(full) - 1)
    assert res.settings["dropped_shots"] == sum(5 - it.shots for it in items) > 0
    assert res.settings["questions_with_dropped_shots"] == 2
    assert res.subjects.dropped_shots.sum() == res.settings["dropped_shots"]


# ---------------------------------------------------------------- aggregation
def test_micro_and_macro_accuracy():
    items = [sc.ScoringItem([1], (0, 1), label, group) for label, group in [(0, "a"), (0, "b"), (0, "b"), (1, "b")]]
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])  # a: 1/1 right, b: 1/3 right
    res = ev.mmlu_result(items, logits, k=0)
    assert res.accuracy == pytest.approx(2 / 4)
    assert res.macro_accuracy == pytest.approx((1 + 1 / 3) / 2)
    assert res.subjects.set_index("subject").n.to_dict() == {"a": 1, "b": 3}
    row = res.to_row()
    assert row["task"] == "mmlu" and row["n"] == 4 and row["n_subjects"] == 2


def test_boolq_result_baseline():
    items = [sc.ScoringItem([1], (5, 6), label) for label in (1, 1, 1, 0)]
    res = ev.boolq_result(items, torch.tensor([[0.0, 1.0]] * 4))
    assert (res.accuracy, res.majority_baseline, res.yes_rate) == (0.75, 0.75, 1.0)


def test_select_is_reproducible_and_ordered():
    qs = [SimpleNamespace(subject=s, i=i) for s in "xy" for i in range(20)]
    a, b = ev.select_mmlu(qs, 4, seed=1), ev.select_mmlu(qs, 4, seed=1)
    assert [q.i for q in a] == [q.i for q in b]
    assert [q.subject for q in a] == ["x"] * 4 + ["y"] * 4
    assert [q.i for q in a[:4]] == sorted(q.i for q in a[:4])
    assert [q.i for q in ev.select_mmlu(qs, 4, seed=2)] != [q.i for q in a]


# ---------------------------------------------------------------- fast scorers == slow reference
def _assert_same(fast, ref, eps=1e-4):
    assert torch.allclose(fast, ref, atol=eps), (fast - ref).abs().max()
    assert fast.argmax(1).tolist() == ref.argmax(1).tolist()


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "gemma3_text", "gpt2"])
def test_scorers_match_reference_on_tiny_models_with_real_prompts(model_type, tok, mmlu):
    test, dev = mmlu
    qs = ev.select_mmlu(test, 3)
    items = ev.mmlu_items(tok, qs, dev, k=2)
    kw = dict(n_positions=1024) if model_type == "gpt2" else dict(sliding_window=2048) if model_type == "gemma3_text" else {}
    model = tiny_model(model_type, vocab_size=len(tok), max_position_embeddings=1024, **kw)
    ref = sc.reference_candidate_logits(model, items)
    _assert_same(sc.candidate_logits(model, items, batch_tokens=1500, progress=False), ref)
    _assert_same(sc.prefix_candidate_logits(model, items, batch_tokens=1500, progress=False), ref)


def test_sliding_window_shorter_than_prompt_matches_reference(tok, mmlu):
    test, dev = mmlu
    items = ev.mmlu_items(tok, ev.select_mmlu(test, 2), dev, k=1)
    model = tiny_model("mistral", vocab_size=len(tok), max_position_embeddings=1024, sliding_window=32)
    assert sc.sliding_window(model) == 32 and sc.sliding_window(tiny_model("llama")) is None
    _assert_same(sc.prefix_candidate_logits(model, items, progress=False), sc.reference_candidate_logits(model, items))



# ---------------------------------------------------------------- sliding windows: prompts longer than the window
def _group(prefix_len, suffix_lens, group="s", seed=0):
    "Items sharing one random prefix, with suffixes of the given lengths."
    g = torch.Generator().manual_seed(seed)
    prefix = torch.randint(3, 500, (prefix_len,), generator=g).tolist()
    return [sc.ScoringItem(prefix + torch.randint(3, 500, (n,), generator=g).tolist(), (7, 8, 9, 10), 0, group, 5) for n in suffix_lens]


def _count_passes(model, fn):
    calls = []
    hook = model.register_forward_pre_hook(lambda *a: calls.append(1))
    try: return fn(), len(calls)
    finally: hook.remove()


@torch.inference_mode()
def _padded_between(model, items):
    "The layout the fast path keeps for short prompts: one batch, suffixes left-padded after the shared prefix."
    from transformers import DynamicCache
    seqs = [it.input_ids for it in items]
    p = min(sc.common_prefix_len(seqs), min(map(len, seqs)) - 1)
    kw = sc.cache_kwarg()
    prefix = torch.tensor([seqs[0][:p]])
    cache = sc.returned_cache(model(input_ids=prefix, use_cache=True, **{kw: DynamicCache()}))
    ids, mask = sc.left_pad([s[p:] for s in seqs])
    logits = model(input_ids=ids, attention_mask=torch.cat([torch.ones(len(seqs), p, dtype=mask.dtype), mask], 1),
                   position_ids=sc.positions(mask, p), use_cache=True, logits_to_keep=1,
                   **{kw: sc.expand_cache(cache, len(seqs))}).logits[:, -1]
    return logits[:, list(items[0].candidates)]


def test_aligned_cache_shifts_each_row_right_by_its_padding():
    from transformers import DynamicCache
    cache = DynamicCache()
    keys = torch.arange(1., 6.).view(1, 1, 5, 1).expand(1, 2, 5, 3).contiguous()  # 2 heads, 5 tokens, head_dim 3
    cache.update(keys, keys + 10, 0)
    out = sc.aligned_cache(cache, [0, 2, 4, 6], 5)
    assert out.layers[0].keys.shape == (4, 2, 5, 3)
    assert out.layers[0].keys[:, 1, :, 2].tolist() == [[1, 2, 3, 4, 5], [0, 0, 1, 2, 3], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    keys, values = out.layers[0].keys, out.layers[0].values
    assert (values == torch.where(keys > 0, keys + 10, 0)).all()
    assert cache.layers[0].keys.shape == (1, 2, 5, 3)  # the prefix cache is untouched


@pytest.mark.parametrize("model_type", ["gemma3_text", "gemma2", "mistral"])
@pytest.mark.parametrize("window", [12, 31, 70])
def test_sliding_window_mixed_lengths_in_one_batch_match_reference(model_type, window):
    # prefix 30, suffixes 1..40: window 12 is shorter than the prefix, 31 falls between the shortest and the longest
    # prompt, 70 is the longest prompt (the padded layout is exact up to there)
    items = _group(30, (1, 40, 7, 22, 3, 13), "a") + _group(25, (5, 2, 9), "b", seed=1)
    model = tiny_model(model_type, sliding_window=window)
    ref = sc.reference_candidate_logits(model, items)
    for batch_tokens, batches in ((10_000, 1 + 1), (150, 3 + 1)):  # (budget, question passes of groups a + b)
        assert batches == sum(len(sc.length_batches([len(it.input_ids) for it in items if it.group == g], batch_tokens)) for g in "ab")
        fast, passes = _count_passes(model, lambda: sc.prefix_candidate_logits(model, items, batch_tokens=batch_tokens, progress=False))
        _assert_same(fast, ref)
        assert passes == 2 + batches  # one prefix pass per group, then length_batches' batches (not one per length)


def test_padding_between_prefix_and_suffix_breaks_sliding_windows():
    # why prompts longer than the window need the aligned layout: the mask counts columns, so pad columns between the
    # prefix and a short suffix push prefix tokens out of the window; with the window above every prompt, it is exact
    items = _group(30, (1, 40, 7, 22))
    short, long_ = tiny_model("gemma3_text", sliding_window=16), tiny_model("gemma3_text", sliding_window=70)
    assert (_padded_between(short, items) - sc.reference_candidate_logits(short, items)).abs().max() > 0.05
    _assert_same(_padded_between(long_, items), sc.reference_candidate_logits(long_, items))
    _assert_same(sc.prefix_candidate_logits(short, items, progress=False), sc.reference_candidate_logits(short, items))


@pytest.mark.slow
def test_gemma3_270m_mmlu_prompts_longer_than_the_window(data_dir):
    from layerprune import zoo
    d = zoo.fetch("gemma3-270m")
    tok, model = load_tokenizer(d), load_model(d)
    assert sc.sliding_window(model) == 512
    pick = {"college_biology": (0, 12, 14), "astronomy": (3, 8, 9)}  # prefix 385 and 520 tokens (above the window)
    test = ev.group_by_subject(load_mmlu("test", data_dir / "mmlu", subjects=tuple(pick)))
    items = ev.mmlu_items(tok, [test[s][i] for s, ix in pick.items() for i in ix], load_mmlu("dev", data_dir / "mmlu", subjects=tuple(pick)))
    assert [len(it.input_ids) for it in items] == [472, 517, 556, 617, 552, 694]  # mixed, across 512, in one batch each
    fast, passes = _count_passes(model, lambda: sc.prefix_candidate_logits(model, items, progress=False))
    ref = sc.reference_candidate_logits(model, items)
    _assert_same(fast, ref, eps=1e-3)
    assert passes == 2 + 2
    # the padded layout is off by far more than the tolerance on these prompts: the check is not vacuous
    assert (_padded_between(model, items[:3]) - ref[:3]).abs().max() > 0.02

def test_peft_wrapped_model():
    from peft import LoraConfig, get_peft_model
    g = torch.Generator().manual_seed(0)
    prefix = torch.randint(3, 500, (30,), generator=g).tolist()
    items = [sc.ScoringItem(prefix + torch.randint(3, 500, (n,), generator=g).tolist(), (7, 8), 0, "s") for n in (2, 9, 5)]
    model = get_peft_model(tiny_model("llama"), LoraConfig(r=2, target_modules=["up_proj"], init_lora_weights=False)).eval()
    ref = sc.reference_candidate_logits(model, items)
    _assert_same(sc.candidate_logits(model, items, progress=False), ref)
    _assert_same(sc.prefix_candidate_logits(model, items, progress=False), ref)


def test_bf16_and_4bit_models(tmp_path):
    g = torch.Generator().manual_seed(2)
    prefix = torch.randint(3, 500, (40,), generator=g).tolist()
    items = [sc.ScoringItem(prefix + torch.randint(3, 500, (1 + i % 7,), generator=g).tolist(), (7, 8, 9, 10), 0, "s") for i in range(8)]
    base = tiny_model("llama", hidden_size=128, intermediate_size=256)
    base.save_pretrained(tmp_path)
    for model, info in [(tiny_model("llama", hidden_size=128, intermediate_size=256).to(torch.bfloat16), ("bfloat16", None)),
                        (load_model(tmp_path, load_in_4bit=True), ("float32", "4bit"))]:  # bitsandbytes NF4, CPU compute in float32
        ref = sc.reference_candidate_logits(model, items)
        _assert_same(sc.candidate_logits(model, items, batch_tokens=200, progress=False), ref, eps=1e-2)
        _assert_same(sc.prefix_candidate_logits(model, items, batch_tokens=200, progress=False), ref, eps=1e-2)
        assert (ev.model_info(model)["dtype"], ev.model_info(model)["quantization"]) == info


def test_prefix_cache_is_not_modified_between_batches():
    # many small batches against one prefix: each must see the prefix alone, not earlier batches' tokens
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(3, 500, (12,), generator=g).tolist()
    items = [sc.ScoringItem(prefix + torch.randint(3, 500, (1 + i % 4,), generator=g).tolist(), (7, 8, 9), 0, "s") for i in range(9)]
    model = tiny_model("llama")
    _assert_same(sc.prefix_candidate_logits(model, items, batch_tokens=20, progress=False), sc.reference_candidate_logits(model, items))


@pytest.mark.slow
def test_smollm2_mmlu_fast_equals_reference(smollm2_dir, tok, mmlu):
    test, dev = mmlu
    model = load_model(smollm2_dir)
    qs = ev.select_mmlu(test, 3)
    res = ev.mmlu_eval(model, tok, qs, dev, progress=False)
    ref = sc.reference_candidate_logits(model, ev.mmlu_items(tok, qs, dev))
    _assert_same(res.logits, ref, eps=1e-3)
    assert res.predictions == ev.mmlu_eval(model, tok, qs, dev, use_prefix_cache=False, progress=False).predictions
    assert res.settings["answer_rule"] == "in-context" and res.settings["dropped_shots"] == 0
    assert len(res.labels) == 6 and set(res.subjects.subject) == set(SUBJECTS)


@pytest.mark.slow
def test_smollm2_boolq_fast_equals_reference(smollm2_dir, tok, data_dir):
    model = load_model(smollm2_dir)
    examples = load_boolq("validation", data_dir / "boolq")[:20]
    res = ev.boolq_eval(model, tok, examples, progress=False)
    ref = sc.reference_candidate_logits(model, ev.boolq_items(tok, examples))
    _assert_same(res.logits, ref, eps=1e-3)
    assert res.labels == [int(e.label) for e in examples]
    assert res.to_row()["n"] == 20 and res.settings["truncated"] == 0


# ---------------------------------------------------------------- C4 loss
def test_c4_loss_equals_the_models_own_loss():
    model = tiny_model("qwen2")
    blocks = torch.randint(0, 512, (5, 24), generator=torch.Generator().manual_seed(0))
    res = ev.c4_loss(model, blocks, batch_size=2, progress=False)
    with torch.no_grad():
        own = torch.stack([model(input_ids=b[None], labels=b[None]).loss for b in blocks])
        batch = model(input_ids=blocks, labels=blocks).loss  # mean over every predicted token at once
    assert res.block_losses == pytest.approx(own.tolist(), abs=1e-5)
    assert res.loss == pytest.approx(batch.item(), abs=1e-5)
    assert res.normalized_loss == pytest.approx(res.loss / math.log(512))
    assert res.vocab_size == 512 and res.to_row()["tokens"] == 5 * 23
    with pytest.raises(ValueError, match="LongTensor"):
        ev.c4_loss(model, blocks[0])


def test_encode_in_threads_equals_one_call(tok, mmlu):
    test, dev = mmlu
    shots = ev.group_by_subject(dev)
    texts = [ev.mmlu_prompt(q, shots[q.subject], 5) for q in test[:150]]
    plain = [list(x) for x in tok(texts, add_special_tokens=False)["input_ids"]]
    assert ev.encode(tok, texts, threads=4) == ev.encode(tok, texts, threads=1) == plain


def test_common_prefix_len_equals_the_pairwise_loop():
    import random
    def ref(seqs):  # the straightforward way: shrink the prefix of the first against each other list
        first, n = seqs[0], min(len(s) for s in seqs)
        for s in seqs[1:]:
            i = 0
            while i < n and s[i] == first[i]: i += 1
            n = i
        return n
    r = random.Random(0)
    for _ in range(2000):
        base = [r.randrange(3) for _ in range(r.randrange(6))]
        seqs = [base[:r.randrange(len(base) + 1)] + [r.randrange(3) for _ in range(r.randrange(4))] for _ in range(r.randrange(1, 5))]
        assert sc.common_prefix_len(seqs) == ref(seqs), seqs
