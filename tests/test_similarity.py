"Similarity: the one-pass all-(l, n) angular distances against a slow reference, l*(n), the baseline, save/load."
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from layerprune.models import ARCHITECTURES, get_final_norm, get_layers, tiny_model
from layerprune.similarity import (Distances, ResidualCapture, angular_distances, best_block, best_blocks,
                                   block_influence, block_start, deepest_block, last_token_index,
                                   position_ids_from_mask)


def hidden_states_pre_norm(model, ids, mask):
    "All hidden states from output_hidden_states, with the last one replaced by the pre-norm layer output."
    pre_norm = {}
    hook = get_layers(model)[-1].register_forward_hook(
        lambda m, a, o: pre_norm.update(x=o[0] if isinstance(o, tuple) else o))
    try:
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                        output_hidden_states=True)
    finally:
        hook.remove()
    hs = list(out.hidden_states)
    normed_last = hs[-1]
    hs[-1] = pre_norm["x"]
    return hs, normed_last


def reference_total(hs, mask):
    "Summed distances, row by row and pair by pair."
    K = len(hs)
    total = np.zeros((K, K))
    for r, t in enumerate(last_token_index(mask).tolist()):
        for i in range(K):
            for j in range(K):
                if i != j:
                    c = torch.nn.functional.cosine_similarity(hs[i][r, t], hs[j][r, t], dim=0).clamp(-1, 1)
                    total[i, j] += math.acos(float(c)) / math.pi
    return total


def random_rows(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 512, (k,), generator=g).tolist() for k in lengths]


def padded(rows, side):
    T = max(map(len, rows))
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        sl = slice(T - len(r), T) if side == "left" else slice(0, len(r))
        ids[i, sl] = torch.tensor(r)
        mask[i, sl] = 1
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
@pytest.mark.parametrize("side", ["right", "left"])
def test_one_pass_matches_reference(model_type, side):
    model = tiny_model(model_type, n_layers=4)
    batch = padded(random_rows([9, 4, 7]), side)
    got = angular_distances(model, [batch], progress=False)
    hs, normed_last = hidden_states_pre_norm(model, batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():  # the tuple's last entry is norm(x^L), not x^L
        torch.testing.assert_close(normed_last, get_final_norm(model)(hs[-1]), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got.total, reference_total(hs, batch["attention_mask"]), atol=1e-5)
    assert got.count == 3 and got.num_layers == 4
    assert got.meta["n_tokens"] == 20 and got.meta["seq_len_max"] == 9 and got.meta["model_type"] == model_type
    m = got.matrix
    np.testing.assert_array_equal(m, m.T)
    assert np.all(np.diag(m) == 0) and np.all(m[~np.eye(5, dtype=bool)] > 0)


def test_x_L_is_before_final_norm():
    "Taking output_hidden_states[-1] (after the norm) would change the last column: we must not."
    model = tiny_model("llama", n_layers=4)
    with torch.no_grad():  # a non-trivial norm gain, as trained models have (a scalar gain keeps angles)
        get_final_norm(model).weight.copy_(torch.rand(64, generator=torch.Generator().manual_seed(0)) + 0.2)
    batch = padded(random_rows([8, 8]), "right")
    got = angular_distances(model, [batch], progress=False)
    hs, normed_last = hidden_states_pre_norm(model, batch["input_ids"], batch["attention_mask"])
    naive = reference_total(hs[:-1] + [normed_last], batch["attention_mask"])
    assert np.abs(naive[:, -1] - got.total[:, -1]).max() > 1e-3
    np.testing.assert_allclose(naive[:-1, :-1], got.total[:-1, :-1], atol=1e-5)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "opt", "gemma3_text", "qwen2"])
def test_invariant_to_batching_and_padding(model_type):
    model = tiny_model(model_type, n_layers=3)
    rows = random_rows([9, 4, 7, 6, 12], seed=1)
    one_by_one = angular_distances(model, [torch.tensor(r) for r in rows], progress=False)
    for side in ("left", "right"):
        whole = angular_distances(model, [padded(rows, side)], progress=False)
        np.testing.assert_allclose(whole.total, one_by_one.total, atol=1e-5)
        split = angular_distances(model, [padded(rows[:2], side), padded(rows[2:], side)], progress=False)
        np.testing.assert_allclose(split.total, one_by_one.total, atol=1e-5)
    assert one_by_one.count == 5


def test_merge_equals_one_run():
    model = tiny_model("qwen3", n_layers=3)
    rows = random_rows([5, 6, 7, 8], seed=2)
    a = angular_distances(model, [padded(rows[:2], "right")], progress=False)
    b = angular_distances(model, [padded(rows[2:], "right")], progress=False)
    both = angular_distances(model, [padded(rows, "right")], progress=False)
    merged = a.merge(b)
    assert merged.count == 4 and merged.meta["n_tokens"] == 26 and merged.meta["seq_len_min"] == 5
    np.testing.assert_allclose(merged.matrix, both.matrix, atol=1e-6)


def test_hooks_removed_and_mode_restored_on_error():
    model = tiny_model("llama", n_layers=3).train()
    bad = torch.full((1, 4), 10_000)  # outside the vocabulary: the embedding lookup raises
    with pytest.raises(IndexError):
        angular_distances(model, [bad], progress=False)
    assert all(not l._forward_pre_hooks and not l._forward_hooks for l in get_layers(model))
    assert model.training


def test_bad_batches():
    model = tiny_model("llama", n_layers=2)
    with pytest.raises(ValueError, match="empty"):
        angular_distances(model, [], progress=False)
    with pytest.raises(ValueError, match="no tokens"):
        angular_distances(model, [{"input_ids": torch.ones(2, 3, dtype=torch.long),
                                   "attention_mask": torch.tensor([[1, 1, 0], [0, 0, 0]])}], progress=False)
    with pytest.raises(TypeError, match="input_ids"):
        angular_distances(model, [[1, 2, 3]], progress=False)


def test_capture_refuses_a_short_pass():
    model = tiny_model("llama", n_layers=3)
    model.config.num_hidden_layers = 2  # the model loop stops early; x^2, x^3 never arrive
    with pytest.raises(RuntimeError, match="depths"):
        angular_distances(model, [torch.tensor([[5, 6, 7]])], progress=False)


def test_block_influence_matches_reference():
    model = tiny_model("gpt_neox", n_layers=4)
    batch = padded(random_rows([9, 4, 7], seed=3), "left")
    hs, _ = hidden_states_pre_norm(model, batch["input_ids"], batch["attention_mask"])
    keep = batch["attention_mask"].bool()
    ref = [1 - float(torch.nn.functional.cosine_similarity(hs[l], hs[l + 1], dim=-1)[keep].mean()) for l in range(4)]
    np.testing.assert_allclose(block_influence(model, [batch], progress=False), ref, atol=1e-5)


# --- choosing the block -------------------------------------------------------------------------

HAND = np.array([  # a hand-built symmetric matrix for L = 5
    [0.0, 0.9, 0.8, 0.7, 0.6, 0.5],
    [0.9, 0.0, 0.3, 0.2, 0.4, 0.5],
    [0.8, 0.3, 0.0, 0.1, 0.3, 0.6],
    [0.7, 0.2, 0.1, 0.0, 0.05, 0.7],
    [0.6, 0.4, 0.3, 0.05, 0.0, 0.8],
    [0.5, 0.5, 0.6, 0.7, 0.8, 0.0]])


def test_best_block_on_hand_built_matrix():
    # n=1 pairs (0,1)=.9 (1,2)=.3 (2,3)=.1 (3,4)=.05 (4,5)=.8 -> l*=3
    # n=2 pairs (0,2)=.8 (1,3)=.2 (2,4)=.3 (3,5)=.7 -> 1; n=3: .7 .4 .6 -> 1; n=4: .6 .5 -> 1
    assert [best_block(HAND, n) for n in (1, 2, 3, 4)] == [3, 1, 1, 1]
    assert best_blocks(Distances(HAND * 3, 3)) == {1: 3, 2: 1, 3: 1, 4: 1}
    assert block_start("similarity", 1, dist=HAND) == 3
    for n in (0, 5, -1):
        with pytest.raises(ValueError, match=r"valid n is 1\.\.4"):
            best_block(HAND, n)
    with pytest.raises(ValueError, match="square"):
        best_block(np.zeros((3, 4)), 1)


def test_deepest_block():
    assert [deepest_block(30, n) for n in (1, 2, 10, 29)] == [28, 27, 19, 0]
    assert deepest_block(5, 1) == 3  # removes layer 3 = L-2, keeps the final layer 4
    assert block_start("deepest", 3, L=32) == 28 and block_start("deepest", 2, dist=HAND) == 2
    for n in (0, 30):
        with pytest.raises(ValueError, match=r"valid n is 1\.\.29"):
            deepest_block(30, n)
    with pytest.raises(ValueError, match="Unknown strategy"):
        block_start("shortgpt", 1, L=30)


def test_distances_views():
    d = Distances(HAND * 2, 2, {"model": "hand"})
    assert d.num_layers == 5 and d.d(2, 2) == pytest.approx(0.3)
    D = d.by_n()
    assert D.shape == (6, 6) and np.allclose(D[1, :5], [0.9, 0.3, 0.1, 0.05, 0.8]) and np.isnan(D[1, 5])
    assert np.isnan(D[5, 1:]).all() and D[5, 0] == pytest.approx(0.5) and np.all(D[0] == 0)
    frame = d.to_frame()
    assert len(frame) == 15 and frame.query("n == 2 and l == 1").d.item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="undefined"):
        d.d(4, 2)


def test_save_load_round_trip_without_torch(tmp_path):
    d = Distances(HAND * 7, 7, {"model": "hand", "n_tokens": 123})
    path = d.save(tmp_path / "dist")
    assert path.name == "dist.npz"
    back = Distances.load(path)
    np.testing.assert_array_equal(back.total, d.total)
    assert back.count == 7 and back.meta == d.meta == {"model": "hand", "n_tokens": 123, "n_samples": 7, "num_layers": 5}
    code = ("import sys, numpy as np, json; from layerprune.similarity import Distances, best_block; "
            f"d = Distances.load({str(path)!r}); assert 'torch' not in sys.modules, 'torch imported'; "
            f"f = np.load({str(path)!r}); assert json.loads(str(f['metadata']))['model'] == 'hand'; "
            "print(best_block(d, 1))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


@pytest.mark.slow
def test_smollm2_matches_reference(smollm2_dir):
    from layerprune.models import load_model
    model = load_model(smollm2_dir)
    batch = padded(random_rows([12, 7], seed=4), "left")
    got = angular_distances(model, [batch], progress=False)
    hs, normed_last = hidden_states_pre_norm(model, batch["input_ids"], batch["attention_mask"])
    assert got.num_layers == 30
    np.testing.assert_allclose(got.total, reference_total(hs, batch["attention_mask"]), atol=2e-5)
    naive_last_column = reference_total(hs[:-1] + [normed_last], batch["attention_mask"])[:, -1]
    assert np.abs(naive_last_column - got.total[:, -1]).max() > 1e-2  # the peers' off-by-one is visible
