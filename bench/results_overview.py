"""The README's "all runs at a glance" table, from every figures/<run>/results.csv (layerprune.plots.summary_table).

    python bench/results_overview.py > /tmp/overview.md

Columns: run, L, MMLU / BoolQ questions per point, unpruned accuracies, the fraction of layers at which MMLU and BoolQ
first fall to chance + 2 points (similarity / deepest, unhealed), the least-squares slope of C4 loss / ln V over the
pruned points (unhealed), the healed fractions, where MMLU and BoolQ fall to chance among the healed points ("not by X"
when no healed point up to X is at chance), and the C4 slope over the healed points (where there are two or more).
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
    def frac(s, c):
        x=g(s,False,c)
        return 'at chance unpruned' if x==0 else ('never' if pd.isna(x) else pct(x))
    slope=lambda st: '—' if pd.isna(g(st,True,'c4_loss_norm_slope')) else f"{g(st,True,'c4_loss_norm_slope'):.2f}"
    healed=sorted(d[d.healed].n.unique().tolist())
    def hfrac(s, c):
        h=d[d.healed & (d.strategy==s)]
        if not len(h): return '—'
        x=g(s,True,c)
        return f"not by {h.frac.max():.0%}" if pd.isna(x) else ('at chance unpruned' if x==0 else pct(x))
    rows.append(f"| `{fam}` | {int(u.L)} | {int(u.mmlu_n):,} / {int(u.boolq_n):,} | {u.mmlu_micro:.1%} / {u.boolq:.1%} | "
                f"{frac('similarity','mmlu_micro_random_frac')} / {frac('deepest','mmlu_micro_random_frac')} | "
                f"{frac('similarity','boolq_random_frac')} / {frac('deepest','boolq_random_frac')} | "
                f"{g('similarity',False,'c4_loss_norm_slope'):.2f} / {g('deepest',False,'c4_loss_norm_slope'):.2f} | "
                f"{', '.join(f'{n / u.L:.0%}' for n in healed) or 'none'} | "
                f"{hfrac('similarity','mmlu_micro_random_frac')} / {hfrac('deepest','mmlu_micro_random_frac')} | "
                f"{hfrac('similarity','boolq_random_frac')} / {hfrac('deepest','boolq_random_frac')} | "
                f"{slope('similarity')} / {slope('deepest')} |")
print("\n".join(rows))
