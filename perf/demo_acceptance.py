"""Measure a finished single-nucleus demo run against the demo's planted truth.

Usage::

    .venv/bin/python perf/demo_acceptance.py RUN_DIR [--uncorrected RUN_DIR] [--alpha 0.05]

``RUN_DIR`` is a working directory in which the workflow ran on a demo config (its
``resources/demo/snrna/truth_*.tsv`` and ``results/``). ``--uncorrected`` names a second run
of the same demo with ``snrna.ambient.method: none``, for before/after numbers. Prints:
contamination estimated vs planted per sample; doublet recall per pair class and singlets
lost; annotation ARI; per cell type the genes at padj < alpha in each contrast and the recall
and precision of the planted genes; focus sets called in the key findings; jobs, results
and report sizes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def contamination(run: Path) -> pd.DataFrame:
    truth = read(run / "resources/demo/snrna/truth_samples.tsv").set_index("sample")
    est = read(run / "results/snrna/ambient/contamination.tsv").set_index("sample")
    out = pd.DataFrame(
        {
            "planted": truth["contamination"],
            "planted_clean_singlets": truth["contamination_clean_singlets"],
            "estimated": est["rho"],
            "ci_low": est["rho_low"],
            "ci_high": est["rho_high"],
        }
    )
    out["difference"] = out["estimated"] - out["planted"]
    return out


def removed_nuclei(run: Path) -> pd.DataFrame:
    """Per nucleus of every sample: removed by QC, by Scrublet, by co-expression."""
    samples = read(run / "resources/demo/snrna/truth_samples.tsv")["sample"]
    tables = []
    for sample in samples:
        t = read(run / f"results/snrna/qc/{sample}.nuclei.tsv")
        t.insert(0, "nucleus", sample + "_" + t["barcode"].astype(str))
        tables.append(t[["nucleus", "removed_by"]])
    out = pd.concat(tables).set_index("nucleus")
    coexp = read(run / "results/snrna/ambient/nuclei.tsv").set_index("nucleus")
    out["coexpression"] = coexp["coexpression_doublet"].reindex(out.index).eq(True)
    return out


def doublets(run: Path) -> pd.DataFrame:
    truth = read(run / "resources/demo/snrna/truth_nuclei.tsv")
    truth.index = truth["sample"] + "_" + truth["barcode"]
    removed = removed_nuclei(run).reindex(truth.index)
    by_doublet_filter = removed["removed_by"].eq("scrublet") | removed["coexpression"]
    # A nucleus QC already removed (low quality) cannot be a doublet call.
    passed_qc = removed["removed_by"].fillna("").isin(["", "scrublet"])
    rows = []
    for pair, sub in truth[truth["doublet"].astype(bool)].groupby("doublet_pair"):
        ok = passed_qc[sub.index]
        rows.append(
            {
                "class": pair,
                "doublets": int(ok.sum()),
                "removed": int(by_doublet_filter[sub.index][ok].sum()),
            }
        )
    dbl = truth["doublet"].astype(bool)
    ok = passed_qc & dbl
    rows.append(
        {
            "class": "all heterotypic",
            "doublets": int(ok.sum()),
            "removed": int(by_doublet_filter[ok].sum()),
        }
    )
    singlets = ~dbl & ~truth["low_quality"].astype(bool) & passed_qc
    rows.append(
        {
            "class": "singlets (lost)",
            "doublets": int(singlets.sum()),
            "removed": int(by_doublet_filter[singlets].sum()),
        }
    )
    out = pd.DataFrame(rows)
    out["share"] = out["removed"] / out["doublets"]
    return out


def annotation_ari(run: Path) -> float:
    truth = read(run / "resources/demo/snrna/truth_nuclei.tsv")
    truth.index = truth["sample"] + "_" + truth["barcode"]
    ann = read(run / "results/snrna/annotation/nuclei.tsv").set_index("nucleus")
    keep = truth.index.intersection(ann.index)
    singlet = ~truth.loc[keep, "doublet"].astype(bool)
    keep = keep[singlet.to_numpy()]
    return adjusted_rand_score(truth.loc[keep, "cell_type"], ann.loc[keep, "cell_type"].astype(str))


def de_counts(run: Path, alpha: float) -> pd.DataFrame:
    truth = read(run / "resources/demo/snrna/truth_genes.tsv")
    plan = read(run / "results/snrna/pseudobulk/plan.tsv")
    rows = []
    for r in plan[plan["status"] == "tested"].itertuples():
        safe = str(r.cell_type).replace("/", "-").replace(" ", "_")
        res = read(run / f"results/snrna/de/{safe}/{r.contrast}.tsv")
        sig = res["padj"] < alpha
        # Genes whose planted effects move this contrast (ketamine acts in pain mice
        # through the rescue and the ketamine-only genes).
        cols = {
            "pain_vs_sham": ["pain_log2fc"],
            "ketamine_rescue": ["rescue_log2fc", "ketamine_log2fc"],
            "ketamine_vs_sham": ["ketamine_log2fc"],
        }.get(r.contrast, [])
        planted = truth[truth["cell_type"] == r.cell_type]
        effect = planted[cols].abs().sum(axis=1) if cols else pd.Series(0.0, planted.index)
        genes = set(planted.loc[effect > 0, "gene_id"])
        is_planted = res["gene_id"].isin(genes)
        rows.append(
            {
                "cell_type": r.cell_type,
                "contrast": r.contrast,
                "significant": int(sig.sum()),
                "planted": len(genes),
                "recall": sig[is_planted].mean() if genes else np.nan,
                "false_hits": int((sig & ~is_planted).sum()),
            }
        )
    return pd.DataFrame(rows)


def focus_calls(run: Path) -> pd.DataFrame:
    path = run / "results/key_findings.tsv"
    if not path.exists():
        return pd.DataFrame()
    kf = read(path)
    called = kf[kf["pain"].isin(["up", "down"]) | kf["ketamine"].isin(["up", "down"])]
    return called[["dataset", "gene_set", "pain", "FDR_pain", "ketamine", "FDR_ketamine", "rescue"]]


def sizes(run: Path) -> dict:
    def du(p: Path) -> float:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6

    jobs = len(list((run / "benchmarks").rglob("*.tsv")))
    report = run / "results/report.html"
    return {
        "jobs (benchmark records)": jobs,
        "results MB": round(du(run / "results"), 1),
        "report MB": round(report.stat().st_size / 1e6, 1) if report.exists() else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--uncorrected", type=Path)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    pd.set_option("display.width", 200, "display.max_rows", 200)
    run = args.run
    print("== contamination (ambient share of the nuclei's UMIs)")
    c = contamination(run)
    print(c.round(4).to_string())
    print(f"largest |estimated - planted|: {c['difference'].abs().max():.4f}")
    print("\n== doublets removed (Scrublet or co-expression), among nuclei that passed QC")
    print(doublets(run).round(3).to_string(index=False))
    print(f"\n== annotation ARI (singlets kept): {annotation_ari(run):.4f}")
    de = de_counts(run, args.alpha)
    if args.uncorrected is not None:
        before = de_counts(args.uncorrected, args.alpha)
        de = before.merge(
            de, on=["cell_type", "contrast", "planted"], how="outer", suffixes=("_before", "_after")
        )
        print(f"\n== pseudobulk DE at padj < {args.alpha}: before (no ambient correction) / after")
    else:
        print(f"\n== pseudobulk DE at padj < {args.alpha}")
    print(de.round(3).to_string(index=False))
    print("\n== focus sets called in the key findings")
    calls = focus_calls(run)
    print(calls.to_string(index=False) if len(calls) else "(none)")
    print("\n== size")
    for k, v in sizes(run).items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
