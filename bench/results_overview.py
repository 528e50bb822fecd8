"""The README's "all runs at a glance" table, from every figures/<run>/results.csv (layerprune.plots.summary_table).

    python bench/results_overview.py > /tmp/overview.md

Columns: run, L, MMLU / BoolQ questions per point, unpruned accuracies, the fraction of layers at which MMLU and BoolQ
first fall to chance + 2 points (similarity / deepest, unhealed), the least-squares slope of C4 loss / ln V over the
pruned points (unhealed), the healed fractions, where MMLU and BoolQ fall to chance among the healed points, and the C4
slope over the healed points (where there are two or more). "not by X": no point up to X (unhealed or healed) is at
chance.
"""
import glob, math
import pandas as pd
from layerprune import plots
rows=[]
for f in sorted(glob.glob('figures/*/results.csv')):
    d=pd.read_csv(f); t=plots.summary_table(d)
    fam=d.family.iloc[0]; u=d[d.strategy=='none'].iloc[0]
    g=lambda s,h,c: t[(t.strategy==s)&(t.healed==h)][c].iloc[0] if len(t[(t.strategy==s)&(t.healed==h)]) else math.nan
    pct=lambda x: '—' if pd.isna(x) else f"{x:.0%}"
    slope=lambda st: '—' if pd.isna(g(st,True,'c4_loss_norm_slope')) else f"{g(st,True,'c4_loss_norm_slope'):.2f}"
    healed=sorted(d[d.healed].n.unique().tolist())
    def frac(s, c, healed):
        pts=d[(d.healed==healed) & (d.strategy==s)]
        if not len(pts): return '—'
        x=g(s,healed,c)
        return f"not by {pts.frac.max():.0%}" if pd.isna(x) else ('at chance unpruned' if x==0 else pct(x))
    rows.append(f"| `{fam}` | {int(u.L)} | {int(u.mmlu_n):,} / {int(u.boolq_n):,} | {u.mmlu_micro:.1%} / {u.boolq:.1%} | "
                f"{frac('similarity','mmlu_micro_random_frac',False)} / {frac('deepest','mmlu_micro_random_frac',False)} | "
                f"{frac('similarity','boolq_random_frac',False)} / {frac('deepest','boolq_random_frac',False)} | "
                f"{g('similarity',False,'c4_loss_norm_slope'):.2f} / {g('deepest',False,'c4_loss_norm_slope'):.2f} | "
                f"{', '.join(f'{n / u.L:.0%}' for n in healed) or 'none'} | "
                f"{frac('similarity','mmlu_micro_random_frac',True)} / {frac('deepest','mmlu_micro_random_frac',True)} | "
                f"{frac('similarity','boolq_random_frac',True)} / {frac('deepest','boolq_random_frac',True)} | "
                f"{slope('similarity')} / {slope('deepest')} |")
print("\n".join(rows))
