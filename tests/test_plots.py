"Tests of layerprune.plots: one function per paper figure, from the results table and distances alone."
import logging
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from layerprune import plots
from layerprune.similarity import best_blocks, block_distances
from layerprune.plots import (
    draw_cross_family_figures, draw_family_figures, fig1c_distance_curves, fig2_mmlu_across_families,
    fig3_c4_loss_healing, fig4_distance_heatmap, fig5_metrics_vs_fraction, fig6_boolq_across_families,
    fig7_fewshot_ablation, fig8_seed_ablation, fig9_lora_rank_ablation, load_distance_matrix, normalized_distance_rows,
    results_table, save_figure, summary_table, synthetic_ablations, synthetic_distances,
    synthetic_results, wilson_interval)

ROOT = Path(__file__).resolve().parents[1]
L_HAND = 6
PLANTED = [4, 3, 3, 1, 0, 0]  # l*(n) for n = 1..6, each valid: l* <= L - n


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def planted_matrix(seed: int = 0) -> np.ndarray:
    "A symmetric (L+1)x(L+1) matrix whose n-th diagonal has its unique minimum at PLANTED[n-1]."
    rng = np.random.default_rng(seed)
    M = rng.uniform(0.3, 0.9, size=(L_HAND + 1, L_HAND + 1))
    M = (M + M.T) / 2
    np.fill_diagonal(M, 0)
    for n, l in enumerate(PLANTED, start=1):
        M[l, l + n] = M[l + n, l] = 0.05 + 0.01 * n
    return M


def table(healed: bool = True) -> pd.DataFrame:
    "A hand-built results table of one family, L = 4: MMLU is at chance (<= 0.27) from frac 0.5 unhealed, 0.75 healed."
    rows = [dict(strategy="none", n=0, healed=False, mmlu_micro=.60, boolq=.80, c4_loss_norm=.30)]
    acc = {False: [.50, .26, .24, .25], True: [.55, .40, .27, .25]}
    for h in ([False, True] if healed else [False]):
        for n in range(1, 5):
            c4 = .30 + (.10 * n if h else .05 * n * n)
            rows.append(dict(strategy="similarity", n=n, healed=h, mmlu_micro=acc[h][n - 1], boolq=.5 + .3 * (4 - n) / 4,
                             c4_loss_norm=c4))
            rows.append(dict(strategy="deepest", n=n, healed=h, mmlu_micro=.25, boolq=.5, c4_loss_norm=c4 + .1))
    df = pd.DataFrame(rows)
    df["family"], df["L"], df["frac"] = "toy", 4, df["n"] / 4
    df["mmlu_n"], df["boolq_n"] = 80, 64
    return df


def sparse_heals() -> pd.DataFrame:
    "A family with L = 20: every n unhealed, healed only at n = 4, 5, 12 (a gap between 5 and 12)."
    df = synthetic_results({"gap": 20})
    return df[~df["healed"] | df["n"].isin([4, 5, 12])].reset_index(drop=True)


def run_lines(ax, gid):
    "The drawn lines of a curve kind ('healed', 'not healed'), markers-only artists excluded."
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid and ln.get_linestyle() != "None"]


def ydata(ax, label):
    return [np.asarray(ln.get_ydata(), float) for ln in ax.get_lines() if ln.get_label() == label]


# --- distances -----------------------------------------------------------------------------------

def test_plots_draw_similaritys_curves_and_argmins():
    "plots recomputes nothing: its curves are `similarity.block_distances`, its marks `similarity.best_blocks`."
    M = planted_matrix()
    assert list(best_blocks(M).values()) == PLANTED[:L_HAND - 1]
    for n in range(1, L_HAND):
        np.testing.assert_array_equal(block_distances(M, n), [M[l, l + n] for l in range(L_HAND - n + 1)])
    tie = np.zeros((5, 5))  # every block equally similar: the shallowest l
    assert list(best_blocks(tie).values()) == [0, 0, 0]


def test_fig1c_has_one_curve_per_n_and_marks_the_argmins():
    M = planted_matrix()
    fig = fig1c_distance_curves(M, n_max=5)
    assert len(fig.axes) == 2  # plot + colorbar
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5 + 1
    for n, line in enumerate(lines[:5], start=1):
        np.testing.assert_allclose(line.get_ydata(), block_distances(M, n))
    star = lines[-1]
    assert list(star.get_xdata()) == PLANTED[:5]
    np.testing.assert_allclose(star.get_ydata(), [M[l, l + n] for n, l in enumerate(PLANTED[:5], start=1)])
    assert len(fig1c_distance_curves(M).axes[0].get_lines()) == (L_HAND - 1) + 1  # default n_max = L - 1


def test_fig1c_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    assert fig1c_distance_curves(planted_matrix(), ax=ax, n_max=3) is fig
    assert len(ax.get_lines()) == 4


def test_fig4_rows_normalized_masked_and_argmins_marked():
    M = planted_matrix()
    H = normalized_distance_rows(M, skip_first=False)
    assert H.shape == (L_HAND - 1, L_HAND)  # n = 1..L-1: a pruned model keeps a layer
    for n in range(1, L_HAND):
        valid = H[n - 1, : L_HAND - n + 1]
        assert np.isnan(H[n - 1, L_HAND - n + 1:]).all()
        if len(valid) > 1: assert valid.min() == 0 and valid.max() == 1
        assert np.argmin(valid) == PLANTED[n - 1]
    np.testing.assert_allclose(normalized_distance_rows(M, normalize="max", skip_first=False)[0, :L_HAND],
                               block_distances(M, 1) / block_distances(M, 1).max())
    fig = fig4_distance_heatmap(M)
    ax = fig.axes[0]
    assert list(ax.get_lines()[0].get_xdata()) == PLANTED[:L_HAND - 1]
    assert list(ax.get_lines()[0].get_ydata()) == list(range(1, L_HAND))
    assert ax.get_lines()[0].get_linestyle() == "None"  # l*(n) as markers, not a zig-zag line
    image = ax.get_images()[0].get_array()
    assert image.mask.sum() == np.isnan(H).sum()
    with pytest.raises(ValueError, match="normalize"):
        normalized_distance_rows(M, normalize="zscore")


def test_fig4_colour_scale_leaves_out_the_first_column():
    M = planted_matrix()
    M[0, 1:] = M[1:, 0] = 5.0  # x^0 far from everything, as the embedding is in real models
    H = normalized_distance_rows(M)
    for n in range(1, L_HAND - 1):  # rows with 2+ blocks at l >= 1
        rest = H[n - 1, 1: L_HAND - n + 1]
        assert rest.min() == 0 and rest.max() == 1  # the scale is set by l >= 1
        assert H[n - 1, 0] > 1  # l = 0 drawn in the end colour
    im = fig4_distance_heatmap(M).axes[0].get_images()[0]
    assert im.get_clim() == (0.0, 1.0)


def test_load_distance_matrix_reads_every_layout(tmp_path):
    M = planted_matrix()
    np.savez(tmp_path / "total.npz", total=M * 7, count=np.array(7))
    np.savez(tmp_path / "sums.npz", sums=M * 3, count=np.array(3))
    np.savez(tmp_path / "matrix.npz", matrix=M)
    np.save(tmp_path / "plain.npy", M)
    for name in ("total.npz", "sums.npz", "matrix.npz", "plain.npy"):
        np.testing.assert_allclose(load_distance_matrix(tmp_path / name), M)
    np.savez(tmp_path / "zero.npz", total=M, count=np.array(0))
    with pytest.raises(ValueError, match="count"):
        load_distance_matrix(tmp_path / "zero.npz")
    with pytest.raises(FileNotFoundError, match="similarity"):
        load_distance_matrix(tmp_path / "missing.npz")


def test_load_distance_matrix_reads_distances_save(tmp_path):
    similarity = pytest.importorskip("layerprune.similarity")
    M = planted_matrix()
    d = similarity.Distances(M * 5, 5, {"model": "toy"})
    path = d.save(tmp_path / "dist")
    np.testing.assert_allclose(load_distance_matrix(path), d.matrix)


# --- results figures -----------------------------------------------------------------------------

def test_fig5_panels_curves_and_reference_lines():
    fig = fig5_metrics_vs_fraction(table())
    assert len(fig.axes) == 3
    chance = ("chance", "chance", "uniform over vocabulary")
    for ax, unpruned, level, name in zip(fig.axes, (.6, .8, .3), (.25, .5, 1.0), chance):
        labels = [ln.get_label() for ln in ax.get_lines()]
        assert {"similarity-informed, healed", "similarity-informed, not healed", "deepest (baseline), healed",
                "deepest (baseline), not healed", "unpruned", name} <= set(labels)
        np.testing.assert_allclose(ydata(ax, "unpruned")[0], unpruned)
        np.testing.assert_allclose(ydata(ax, name)[0], level)
    mmlu = fig.axes[0]
    (healed,) = ydata(mmlu, "similarity-informed, healed")
    np.testing.assert_allclose(healed, [.55, .40, .27, .25])  # the healed points, hollow
    (marker,) = [ln for ln in mmlu.get_lines() if ln.get_label() == "similarity-informed, healed"]
    assert marker.get_linestyle() == "None" and marker.get_markerfacecolor() == "white"
    (unhealed,) = [ln for ln in mmlu.get_lines() if ln.get_label() == "similarity-informed, not healed"]
    np.testing.assert_allclose(unhealed.get_xdata(), [0, .25, .5, .75, 1.0])  # starts at the unpruned model
    assert unhealed.get_linestyle() == "-"
    band = [c for c in mmlu.collections if c.get_gid() == "not healed"][0]  # the 95% band of the first curve
    lo, hi = wilson_interval([.6, .5, .26, .24, .25], 80)
    np.testing.assert_allclose(band.get_paths()[0].vertices[:, 1].min(), lo.min(), atol=1e-9)
    np.testing.assert_allclose(band.get_paths()[0].vertices[:, 1].max(), hi.max(), atol=1e-9)


def test_fig5_axes_fixed_around_chance_unless_a_point_is_outside():
    fig = fig5_metrics_vs_fraction(table())
    assert [ax.get_ylim() for ax in fig.axes[:2]] == [(.2, .6), (.3, .8)]
    wide = table(); wide.loc[0, "boolq"] = .93
    assert fig5_metrics_vs_fraction(wide).axes[1].get_ylim() == (.3, .95)
    assert plots.metric_ylim("mmlu_micro", [.12, .5]) == (.1, .6)


def test_fraction_axes_of_results_and_ablation_figures():
    "Results figures: 0 to the largest fraction with 3% margins, a tick every 0.25; ablations: 2% / 10%, every 0.1, labelled."
    ax = fig5_metrics_vs_fraction(table()).axes[0]  # fractions up to 1.0
    np.testing.assert_allclose(ax.get_xlim(), (-0.03, 1.03))
    np.testing.assert_allclose(np.diff(ax.get_xticks())[0], 0.25)
    abl = synthetic_ablations()["fewshot"]
    ax, xmax = fig7_fewshot_ablation(abl).axes[0], float(abl["frac"].max())
    np.testing.assert_allclose(ax.get_xlim(), (-0.02 * xmax, 1.1 * xmax))
    np.testing.assert_allclose(np.diff(ax.get_xticks())[0], 0.1)
    assert ax.get_xlabel() == plots.FRAC_LABEL


def test_healed_points_are_not_joined_across_gaps():
    df = sparse_heals()
    for fig in (fig5_metrics_vs_fraction(df), fig2_mmlu_across_families(df), fig3_c4_loss_healing(df)):
        healed = [ln for ax in fig.axes for ln in run_lines(ax, "healed")]
        assert healed, "the adjacent heals at n = 4, 5 are joined"
        for ln in healed:
            assert np.round(np.asarray(ln.get_xdata()) * 20).tolist() == [4, 5]  # never 5 -> 12, never 0 -> 4
    assert plots.healing_budget(df) == "100 steps"
    assert "healed: 100 steps" in fig5_metrics_vs_fraction(df)._suptitle.get_text()


def test_fig5_majority_class_line_only_on_boolq_when_recorded():
    fig = fig5_metrics_vs_fraction(table().assign(boolq_majority=.62))
    assert [len(ydata(ax, "majority class")) for ax in fig.axes] == [0, 1, 0]
    np.testing.assert_allclose(ydata(fig.axes[1], "majority class")[0], .62)
    assert summary_table(table().assign(boolq_majority=.62))["boolq_majority"].eq(.62).all()


def test_fig5_needs_a_family_when_the_table_has_several():
    df = synthetic_results()
    with pytest.raises(ValueError, match="pass family="):
        fig5_metrics_vs_fraction(df)
    with pytest.raises(KeyError, match="tiny-16"):
        fig5_metrics_vs_fraction(df, "llama")


def test_fig2_and_fig6_a_column_per_model_a_row_per_strategy():
    df = synthetic_results({"a": 8, "b": 12, "c": 16, "d": 20})
    fig = fig2_mmlu_across_families(df)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == [f"synthetic/{f} (L = {L})" for f, L in zip("abcd", (8, 12, 16, 20))]
    assert fig.axes[0].get_ylabel().startswith("similarity-informed") and fig.axes[4].get_ylabel().startswith("deepest")
    assert len({ax.get_xlim() for ax in fig.axes}) == 1 and len({ax.get_ylim() for ax in fig.axes}) == 1  # shared
    assert fig.axes[0].get_ylim() == (.2, .6)
    for ax in fig.axes:
        np.testing.assert_allclose(ydata(ax, "chance")[0], .25)
        assert len(run_lines(ax, "not healed")) == 1
    fig = fig6_boolq_across_families(df, groups={"small": ["a", "b"], "large": ["c", "d"]})
    assert len(fig.axes) == 2 * 2
    assert len(run_lines(fig.axes[0], "not healed")) == 2  # both runs of the group, one colour each
    np.testing.assert_allclose(ydata(fig.axes[0], "chance")[0], .5)
    np.testing.assert_allclose(ydata(fig.axes[0], "majority class")[0], .62)
    with pytest.raises(KeyError, match="not in the table"):
        fig2_mmlu_across_families(df, groups={"x": ["zzz"]})


def test_runs_of_one_model_share_a_panel_in_colours_apart_from_the_reference_lines():
    sub = synthetic_results({"m": 16}).assign(family="m", model="m", mmlu_n=80)
    full = synthetic_results({"m": 16}, seed=1).assign(family="m-full", model="m", mmlu_n=14042)
    df = pd.concat([sub, full], ignore_index=True)
    assert plots.run_groups(df) == {"m": ["m-full", "m"]}  # the whole-test-set run first
    fig = fig2_mmlu_across_families(df)
    assert len(fig.axes) == 2  # one model, two strategies
    colors = {ln.get_color() for ax in fig.axes for ln in run_lines(ax, "not healed")}
    assert len(colors) == 2
    reference = {plots.RANDOM_STYLE["color"], plots.MAJORITY_STYLE["color"], plots.UNPRUNED_STYLE["color"]}
    assert not colors & reference and not set(plots.RUN_PALETTE) & {plots.COLORBLIND[6], plots.COLORBLIND[7]}
    texts = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert texts[0].startswith("m-full, 14,042 questions") and texts[1].startswith("m, 80 questions")


def test_fig3_before_and_after_healing():
    fig = fig3_c4_loss_healing(synthetic_results())
    assert [ax.get_title() for ax in fig.axes] == ["before healing", "after healing"]
    assert fig._suptitle.get_text() == "similarity-informed block"  # the strategy drawn is named
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    for ax in fig.axes:
        assert {"tiny-16\nhealed: 100 steps", "tiny-24\nhealed: 100 steps", "uniform over vocabulary"} <= {
            ln.get_label() for ln in ax.get_lines()}
    (healed,) = [ln for ln in fig3_c4_loss_healing(table()).axes[1].get_lines() if ln.get_label().startswith("toy")]
    np.testing.assert_allclose(healed.get_ydata(), [.4, .5, .6, .7])


def test_fig3_one_exploded_point_is_clipped_and_marked():
    df = table()
    df.loc[(df.strategy == "similarity") & (df.n == 4) & ~df.healed, "c4_loss_norm"] = 6.0
    before, after = fig3_c4_loss_healing(df).axes
    assert before.get_ylim() == (0.0, plots.C4_CLIP)
    (mark,) = [ln for ln in before.get_lines() if ln.get_gid() == "clipped"]
    assert mark.get_xdata().tolist() == [1.0] and mark.get_ydata().tolist() == [plots.C4_CLIP]
    assert any("above 2" in t.get_text() for t in before.texts)
    assert after.get_ylim()[1] < 1.1  # the healed losses keep an axis of their own


def test_ablation_figures():
    abl = synthetic_ablations()
    labelled = lambda ax: [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]  # noqa: E731
    fig = fig7_fewshot_ablation(abl["fewshot"])
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 2 * (4 + 1) + 1  # healed/not x (4 orderings + mean), chance
    assert len(fig.axes[1].get_lines()) == 2 * 3 + 1  # healed/not x k in (0, 1, 5), chance
    assert len(fig.axes[1].collections) == 2 * 3  # a 95% band per curve
    fig = fig8_seed_ablation(abl["seeds"])
    assert labelled(fig.axes[1]) == ["seed 0", "seed 1", "seed 2", "chance"]
    assert [len(ax.containers) for ax in fig.axes[:2]] == [3, 0]  # error bars where questions are counted
    fig = fig9_lora_rank_ablation(abl["lora_rank"])
    assert labelled(fig.axes[0]) == ["rank 2", "rank 8", "rank 64", "chance"]
    assert fig.axes[0].get_ylim()[1] == 0.6  # the fixed accuracy axis
    with pytest.raises(KeyError, match="lora_rank"):
        fig9_lora_rank_ablation(abl["seeds"])


def test_ablation_figure_intervals_and_budget():
    "The 95% bars are the Wilson interval of a row's questions; the title names the healing budget."
    t = synthetic_ablations()["seeds"].assign(healed=True, strategy="similarity", heal_steps=100, heal_tokens=1_638_400)
    fig = fig8_seed_ablation(t)
    assert "healed: 100 steps x 16,384 tokens (1.6M tokens)" in fig._suptitle.get_text()
    row = t[(t.heal_seed == 0) & (t.n == 4)].iloc[0]
    lo, hi = wilson_interval(row.mmlu_micro, row.mmlu_n)
    segs = fig.axes[0].containers[0].lines[2][0].get_segments()  # seed 0's vertical bars
    bar = next(s for s in segs if abs(s[0][0] - row.frac) < 0.05 and abs(s[1][1] - hi) < 1e-9)
    assert abs(bar[0][1] - lo) < 1e-9


# --- files -----------------------------------------------------------------------------------------

def test_save_figure_writes_png_and_pdf(tmp_path):
    paths = save_figure(fig1c_distance_curves(planted_matrix()), tmp_path / "new", "fig1c")
    assert [p.name for p in paths] == ["fig1c.png", "fig1c.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert all(p.stat().st_size > 1000 for p in paths)


def test_draw_family_figures_complete_table(tmp_path):
    df, M = synthetic_results(), synthetic_distances(16)
    np.savez(tmp_path / "dist.npz", total=M * 2, count=np.array(2))
    paths = draw_family_figures(df, tmp_path / "dist.npz", tmp_path / "out", "tiny-16", ablations=synthetic_ablations())
    stems = ["fig1c_distance_curves", "fig4_distance_heatmap", "fig5_metrics_vs_fraction", "fig3_c4_loss_healing",
             "fig7_fewshot_ablation", "fig8_seed_ablation", "fig9_lora_rank_ablation"]
    assert sorted(p.name for p in paths) == sorted(f"{s}_tiny-16.{e}" for s in stems for e in ("png", "pdf"))
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert not plt.get_fignums()  # every figure closed after saving


def test_draw_family_figures_skips_healed_figures_without_healed_rows(tmp_path, caplog):
    df = synthetic_results(healed=False)
    with caplog.at_level(logging.WARNING, logger="layerprune.plots"):
        paths = draw_family_figures(df, None, tmp_path, "tiny-24")
    assert [p.name for p in paths] == ["fig5_metrics_vs_fraction_tiny-24.png", "fig5_metrics_vs_fraction_tiny-24.pdf"]
    assert "no healed rows" in caplog.text and "no distance matrix" in caplog.text


def test_draw_cross_family_figures(tmp_path, caplog):
    csv = tmp_path / "results.csv"
    synthetic_results().to_csv(csv, index=False)
    names = sorted(p.name for p in draw_cross_family_figures(csv, tmp_path))
    assert names == sorted(f"{s}.{e}" for s in ("fig2_mmlu_across_families", "fig6_boolq_across_families",
                                               "fig3_c4_loss_healing") for e in ("png", "pdf"))
    no_boolq = synthetic_results(healed=False).assign(boolq=np.nan)
    with caplog.at_level(logging.WARNING, logger="layerprune.plots"):
        names = [p.stem for p in draw_cross_family_figures(no_boolq, tmp_path / "partial")]
    assert set(names) == {"fig2_mmlu_across_families"}
    assert "boolq" in caplog.text and "no healed rows" in caplog.text


def test_results_table_from_csv_and_parquet(tmp_path):
    df = table()
    df.to_csv(tmp_path / "r.csv", index=False)
    df.to_parquet(tmp_path / "r.parquet")
    for p in ("r.csv", "r.parquet"):
        back = results_table(tmp_path / p)
        assert back["healed"].dtype == bool and back["healed"].sum() == df["healed"].sum()
    raw = df.drop(columns="c4_loss_norm").assign(c4_loss=df["c4_loss_norm"] * np.log(1000), vocab_size=1000)
    np.testing.assert_allclose(results_table(raw)["c4_loss_norm"], df["c4_loss_norm"])
    with pytest.raises(KeyError, match=r"lacks column\(s\) \['frac'\]"):
        results_table(df.drop(columns="frac"))
    with pytest.raises(ValueError, match="not booleans"):
        results_table(df.assign(healed="maybe"))


# --- summary ---------------------------------------------------------------------------------------

def test_summary_table_on_a_hand_built_table():
    s = summary_table(table()).set_index(["strategy", "healed"])
    assert s.loc[("similarity", False), "mmlu_micro_chance_frac"] == .5  # .26 <= .25 + .02
    assert s.loc[("similarity", True), "mmlu_micro_chance_frac"] == .75  # .27
    assert s.loc[("deepest", True), "mmlu_micro_chance_frac"] == .25
    assert s.loc[("similarity", True), "boolq_chance_frac"] == 1.0  # .575 at n = 3 is not within 2 points of a coin flip
    assert s.loc[("similarity", False), "mmlu_micro_unpruned"] == .6
    assert s.loc[("similarity", True), "c4_loss_norm_slope"] == pytest.approx(.4)  # .1 per layer = .4 per frac
    assert s.loc[("similarity", True), "points"] == 4
    strict = summary_table(table(), tolerance=0.0).set_index(["strategy", "healed"])
    assert strict.loc[("similarity", False), "mmlu_micro_chance_frac"] == .75  # .24
    assert strict.loc[("similarity", True), "mmlu_micro_chance_frac"] == 1.0
    lo, hi = wilson_interval(.6, 80)
    assert s.loc[("similarity", False), "mmlu_micro_unpruned_lo"] == pytest.approx(lo)
    assert s.loc[("similarity", False), "mmlu_micro_unpruned_hi"] == pytest.approx(hi)


def test_one_chance_rule():
    assert plots.CHANCE == {"mmlu_micro": .25, "mmlu_macro": .25, "boolq": .5} and plots.CHANCE_MARGIN == .02
    assert plots.at_chance([.27, .271], "mmlu_micro").tolist() == [True, False]
    assert plots.at_chance([.52, .521, .62], "boolq").tolist() == [True, False, False]  # a coin flip, not the majority
    rule = plots.chance_rule()
    assert "MMLU <= 27%" in rule and "BoolQ <= 52%" in rule


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(.5, 100)
    assert (lo, hi) == (pytest.approx(.40383, abs=1e-5), pytest.approx(.59617, abs=1e-5))
    lo, hi = wilson_interval([0, .2, 1], [10, 20, 10])  # 0/10, 4/20, 10/10
    np.testing.assert_allclose(lo, [0, .0807, .7225], atol=1e-4)  # the 4-decimal textbook values
    np.testing.assert_allclose(hi, [.2775, .4160, 1], atol=1e-4)
    p, n = .3, 400  # for large n it approaches p +- 1.96 se
    lo, hi = wilson_interval(p, n)
    assert (hi - lo) / 2 == pytest.approx(1.96 * np.sqrt(p * (1 - p) / n), rel=0.01)
    assert np.isnan(wilson_interval(.5, 0)[0]) and np.isnan(wilson_interval(.5, np.nan)[1])


def test_summary_table_never_random_is_nan():
    df = table().assign(mmlu_micro=.6)
    assert summary_table(df)["mmlu_micro_chance_frac"].isna().all()


# --- isolation -------------------------------------------------------------------------------------

def test_plots_does_not_import_torch():
    out = subprocess.run([sys.executable, "-c", "import layerprune.plots, sys; assert 'torch' not in sys.modules, "
                          "sorted(m for m in sys.modules if m.startswith(('torch', 'transformers')))"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_colorblind_palette_is_seaborns():
    sns = pytest.importorskip("seaborn")
    assert plots.COLORBLIND == sns.color_palette("colorblind").as_hex()


def test_read_table_keeps_prediction_strings(tmp_path):
    "Per-question answers are digit strings: read back as text, leading zeros and all, never as an overflowing number."
    from layerprune import plots
    preds = "0" + "3120" * 20  # 81 digits: too long for any integer type
    p = tmp_path / "results.csv"
    pd.DataFrame({"strategy": ["none"], "n": [0], "mmlu_pred": [preds], "boolq_pred": ["0011"]}).to_csv(p, index=False)
    t = plots.read_table(p)
    assert t["mmlu_pred"].iloc[0] == preds and t["boolq_pred"].iloc[0] == "0011"
