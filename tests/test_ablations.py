"Ablations (figs 7-9): a tiny run computed part by part, then gathered into the plot tables and drawn; a redraw computes nothing."
import filecmp
from pathlib import Path

import pytest

from layerprune import ablations as A
from layerprune.models import tiny_checkpoint


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, smollm2_dir):
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ck", smollm2_dir, n_layers=6)


def test_tiny_ablations_gather_and_draw(tiny_dir, tmp_path, data_dir, monkeypatch):
    base = dict(model=str(tiny_dir), family="tiny-abl", profile="tiny", strategies=("similarity",), data_dir=str(data_dir))
    plan = A.ablation_plan(base, tmp_path, fracs=(1, 2), heal_fracs=(2,), shots=(0, 1), shot_seeds=(None, 1),
                           heal_seeds=(0, 1), lora_ranks=(2, 8), orderings_k=1)
    assert A.run_ablations(plan, "fewshot") == ["fewshot/k0-file", "fewshot/k1-file", "fewshot/k1-seed1", "seeds/seed0"]
    with pytest.raises(FileNotFoundError, match="Unfinished ablation runs: ranks/rank2, seeds/seed1"):
        A.gather_tables(plan, tmp_path)
    A.run_ablations(plan, "seeds"); A.run_ablations(plan, "ranks")
    first = tmp_path / "fewshot" / "k0-file" / "distances.npz"  # computed once, then copied (and checked) by every run
    assert all(filecmp.cmp(first, Path(r.cfg.out_dir) / "distances.npz", shallow=False) for r in plan)

    import layerprune.sweep as sw  # everything is there: a redraw loads no model
    monkeypatch.setattr(sw, "load_model", lambda *a, **k: pytest.fail("a finished ablation must not load the model"))
    A.run_ablations(plan, "all")
    t = A.gather_tables(plan, tmp_path)
    assert {f.name for f in tmp_path.glob("*.csv")} == {"fewshot.csv", "seeds.csv", "lora_rank.csv"}
    few = t["fewshot"]
    assert set(zip(few["mmlu_k"], few["order"])) == {(0, "file"), (1, "file"), (1, "seed 1")}
    assert not few["healed"].any() and sorted(few["n"].unique()) == [0, 1, 2]
    assert set(few.loc[few["order"] == "seed 1", "mmlu_shot_seed"]) == {1}  # the sweep recorded the order it used
    seeds, ranks = t["seeds"], t["ranks"]
    healed = lambda d: d[d["healed"]]
    assert sorted(healed(seeds)["heal_seed"]) == [0, 1] and sorted(healed(ranks)["lora_rank"]) == [2, 8]
    assert (healed(seeds)["n"] == 2).all() and (healed(seeds)["heal_steps"] == 2).all()
    # the seed-0 heal is the recipe's (rank 8): the same numbers in both tables
    s0 = healed(seeds)[healed(seeds)["heal_seed"] == 0]["c4_loss"].item()
    assert healed(ranks)[healed(ranks)["lora_rank"] == 8]["c4_loss"].item() == s0
    # seeds differ in the heal only: the same unhealed points
    un = seeds[~seeds["healed"] & (seeds["n"] == 2)]
    assert un["c4_loss"].nunique() == 1

    figs = A.draw_ablations(t, tmp_path, "tiny-abl")
    assert set(figs) == {"fewshot", "seeds", "ranks"}
    for stem in ("fig7_fewshot_ablation", "fig8_seed_ablation", "fig9_lora_rank_ablation"):
        for ext in ("png", "pdf"): assert (tmp_path / f"{stem}_tiny-abl.{ext}").stat().st_size > 1000
    assert "orders of the 1 shots" in A.fewshot_reading(few, k=1)
    assert "over the ranks" in A.heal_reading(ranks, "lora_rank")
