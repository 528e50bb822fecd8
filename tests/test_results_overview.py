"The README's results overview is the table bench/results_overview.py builds from the committed records/*/results.csv."
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from layerprune import plots

ROOT = Path(__file__).resolve().parents[1]


def load_overview():
    spec = importlib.util.spec_from_file_location("results_overview", ROOT / "bench" / "results_overview.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_overview_matches_the_committed_csvs():
    ov = load_overview()
    readme = ov.readme_block((ROOT / "README.md").read_text())
    fresh = ov.overview(ROOT)
    assert readme == fresh, "README.md's results table is stale: run `python tools/readme.py`"


def test_overview_states_the_one_chance_rule():
    text = load_overview().rule_text()
    m, b = plots.CHANCE["mmlu_micro"] + plots.CHANCE_MARGIN, plots.CHANCE["boolq"] + plots.CHANCE_MARGIN
    assert f"MMLU <= {m:.0%}" in text and f"BoolQ <= {b:.0%} (a coin flip" in text


def test_run_row_on_a_hand_built_run():
    ov = load_overview()
    rows = [dict(strategy="none", n=0, healed=False, mmlu_micro=.5, boolq=.75)]
    for s, acc in (("similarity", [.4, .27, .2]), ("deepest", [.28, .3, .26])):
        rows += [dict(strategy=s, n=n, healed=False, mmlu_micro=a, boolq=.6) for n, a in zip((1, 2, 3), acc)]
    d = pd.DataFrame(rows).assign(family="toy", L=4, mmlu_n=100, boolq_n=400, c4_loss_norm=.3)
    d["frac"] = d["n"] / 4
    cells = [c.strip() for c in ov.run_row(d).strip("|").split("|")]
    assert cells[:6] == ["`toy`", "4", "100 / 400", "50.0% ± 9.6 / 75.0% ± 4.2", "50% / 75%", "not by 75% / not by 75%"]
    assert cells[7] == "none" and cells[8] == "— / —"


def test_readme_block_needs_the_markers():
    with pytest.raises(ValueError, match="markers"):
        load_overview().readme_block("# no table here")
