"""Benchmark the GSEA stage: acc_tiam1.enrichment.prerank against plain gseapy.prerank.

Three parts, each optional:

``--tables``  DE tables (default: every results/*/de/**/*.tsv DE table of the workflow in
              ``--workdir``): both implementations on each, same gene sets, settings, seed.
``--real``    Real rankings: DESeq2 Wald statistics of two public mouse bulk data sets
              (hippocampus DG vs CA1; nucleus accumbens cocaine vs saline), where MSigDB sets
              overlap the measured genes as in a real study.
``--stage``   The whole enrichment + rescue stage of the demo, run by Snakemake in a copy
              of the workflow with the extra GMT files added to ``genesets:`` (DE runs first
              and is not timed).

For every ranking each implementation runs in its own fresh process (reading the gene
sets there), which reports the wall time of the prerank call alone and the process's peak
resident memory. Reported: both times and peaks, the agreement of ES (exact), NES (Pearson
r, largest difference) and FDR (Spearman rank correlation, overlap of sets with
FDR < 0.05), an exactness check (acc_tiam1's NES/p/FDR/FWER formulas applied to gseapy's
own null scores against gseapy's values), and the load average before and after. Results
go to ``--out`` (TSV), to the terminal, and to a JSON result file (``--json``, default
``$TMPDIR/acc_tiam1_benchmarks/enrichment.json``; format in ``benchlib.py``) that
``run_all.py`` reads.

Example::

    .venv/bin/python perf/enrichment_benchmark.py --workdir /tmp/enrich_wf \\
        --gmt /work/shared/realdata/genesets/MSigDB4mouse/c2.cp.mmu.v7.0.symbols.gmt \\
        --tables --real --stage
"""

from __future__ import annotations

import argparse
import glob
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "perf"))

import benchlib  # noqa: E402
from acc_tiam1 import enrichment, io  # noqa: E402

REALDATA = Path("/work/shared/realdata/bulk")
STAGE_RULES = [
    "enrichment_gsea",
    "enrichment_ora",
    "enrichment_summary",
    "enrichment_heatmap",
    "enrichment_running_sum",
    "enrichment_bulk_vs_pseudobulk_table",
    "enrichment_bulk_vs_pseudobulk_plot",
    "rescue_tables",
    "rescue_plots",
    "rescue_interaction_gsea",
    "rescue_key_findings",
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--workdir",
        type=Path,
        default=REPO,
        help="workflow folder whose results/ DE tables and config to use",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: <workdir>/config/config.yaml)",
    )
    p.add_argument("--gmt", nargs="*", default=[], help="extra GMT files (e.g. MSigDB)")
    p.add_argument("--tables", action="store_true", help="benchmark the DE tables")
    p.add_argument(
        "--snrna-tables",
        action="store_true",
        help="with --tables: the snRNA DE tables too (slow with gseapy)",
    )
    p.add_argument("--real", action="store_true", help="benchmark real-data rankings")
    p.add_argument("--stage", action="store_true", help="time the Snakemake stage")
    p.add_argument("--permutations", type=int, default=None)
    p.add_argument("--threads", type=int, default=2, help="gseapy threads")
    p.add_argument("--skip-gseapy", action="store_true", help="time acc_tiam1 only")
    p.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "enrich_bench",
        help="folder for cached real-data rankings",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "acc_tiam1_benchmarks" / "enrichment_benchmark.tsv",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=benchlib.DEFAULT_RESULTS / "enrichment.json",
        help="result file for run_all.py",
    )
    p.add_argument(
        "--worker", nargs=3, metavar=("ENGINE", "RANKING", "OUT"), help=argparse.SUPPRESS
    )
    return p.parse_args(argv)


def settings(args) -> dict:
    path = args.config or args.workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    e = config.get("enrichment", {})
    genesets = [
        str(args.workdir / g) if not Path(g).is_absolute() else g
        for g in config.get("genesets", ["config/genesets/tiam1_rac1.gmt"])
    ]
    return {
        "min_size": e.get("min_size", 5),
        "max_size": e.get("max_size", 500),
        "permutations": args.permutations or e.get("permutations", 1000),
        "weight": e.get("weight", 1.0),
        "seed": config.get("seed", 20221215),
        "genesets": genesets + list(args.gmt),
    }


def run_ours(ranking: pd.Series, sets, s: dict) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    res = enrichment.prerank(
        ranking, sets, s["min_size"], s["max_size"], s["permutations"], s["seed"], s["weight"]
    )
    return res[res["tested"]].set_index(["source", "term"]), time.perf_counter() - t0


def run_gseapy(ranking: pd.Series, sets, s: dict, threads: int) -> tuple[pd.DataFrame, float]:
    """gseapy.prerank with the same settings; 'source__term' names give per-file FDR."""
    import gseapy

    gmt = {f"{g.source}__{g.term}": list(g.genes) for g in sets}
    t0 = time.perf_counter()
    pre = gseapy.prerank(
        rnk=ranking,
        gene_sets=gmt,
        min_size=s["min_size"],
        max_size=s["max_size"],
        permutation_num=s["permutations"],
        weight=s["weight"],
        seed=s["seed"],
        threads=threads,
        outdir=None,
        no_plot=True,
        verbose=False,
    )
    seconds = time.perf_counter() - t0
    res = pre.res2d.copy()
    parts = res["Term"].str.split("__", n=1, expand=True)
    res["source"], res["term"] = parts[0], parts[1]
    res = res.rename(columns={"FDR q-val": "FDR", "NOM p-val": "pvalue"})
    for col in ("ES", "NES", "FDR", "pvalue"):
        res[col] = res[col].astype(float)
    return res.set_index(["source", "term"]), seconds


def worker(args) -> None:
    """``--worker ENGINE RANKING OUT``: one implementation on one ranking, in this process.

    Prints a JSON line with the prerank call's seconds and this process's peak RSS.
    """
    engine, ranking_path, out = args.worker
    s = settings(args)
    sets = enrichment.read_genesets(s["genesets"])
    ranking = pd.read_csv(ranking_path, sep="\t", index_col=0).iloc[:, 0]
    ranking.index = ranking.index.astype(str)
    if engine == "ours":
        res, seconds = run_ours(ranking, sets, s)
    else:
        res, seconds = run_gseapy(ranking, sets, s, args.threads)
    res[["ES", "NES", "FDR", "pvalue"]].to_csv(out, sep="\t")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))


def run_isolated(engine: str, ranking: pd.Series, args) -> tuple[pd.DataFrame, dict]:
    """Run ``engine`` ("ours" or "gseapy") on ``ranking`` in a fresh process (:func:`worker`).

    Returns its result table (indexed by source, term) and ``seconds``/``peak_rss_mb``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        rnk, out = Path(tmp) / "ranking.tsv", Path(tmp) / "result.tsv"
        ranking.rename("stat").to_csv(rnk, sep="\t")
        cmd = [
            sys.executable,
            __file__,
            "--workdir",
            str(args.workdir),
            "--threads",
            str(args.threads),
            "--worker",
            engine,
            str(rnk),
            str(out),
        ]
        if args.config:
            cmd += ["--config", str(args.config)]
        if args.permutations:
            cmd += ["--permutations", str(args.permutations)]
        if args.gmt:
            cmd += ["--gmt", *args.gmt]
        run = benchlib.run_measured(cmd)
        if run.returncode != 0:
            raise RuntimeError(f"{engine} failed:\n{run.stderr[-3000:]}")
        info = json.loads(run.stdout.strip().splitlines()[-1])
        table = pd.read_csv(out, sep="\t", index_col=[0, 1], dtype={"source": str, "term": str})
    return table, info


def measure_ranking(name: str, ranking: pd.Series, sets, s: dict, args) -> dict:
    """Both implementations on one ranking: times, peaks, agreement, exactness, load."""
    load_start = benchlib.loadavg()
    ours, info_o = run_isolated("ours", ranking, args)
    row = {
        "ranking": name,
        "genes": len(ranking),
        "sets_tested": len(ours),
        "seconds_ours": round(info_o["seconds"], 2),
        "peak_mb_ours": round(info_o["peak_rss_mb"]),
    }
    if not args.skip_gseapy and len(ours):
        theirs, info_g = run_isolated("gseapy", ranking, args)
        row["seconds_gseapy"] = round(info_g["seconds"], 2)
        row["peak_mb_gseapy"] = round(info_g["peak_rss_mb"])
        row["speedup"] = round(info_g["seconds"] / info_o["seconds"], 1)
        row.update(agreement(ours, theirs))
        row.update(exactness(ranking, sets, s, args.threads))
    row["load_start"], row["load_end"] = load_start, benchlib.loadavg()
    return row


def result_row(r: dict, s: dict, threads: int) -> dict:
    """One line of the consolidated table (benchlib's result file)."""
    if "stage_jobs" in r:
        return benchlib.row(
            "enrichment + rescue stage",
            f"{r['stage_jobs']} jobs, demo DE tables",
            ours_s=r["seconds_ours"],
            load_start=r["load_start"],
            load_end=r["load_end"],
            note="snakemake --cores 2 --forcerun of the stage (wall time)",
        )
    agree = None
    if "nes_pearson" in r:
        agree = (
            f"NES Pearson {r['nes_pearson']:.4f}; FDR Spearman {r['fdr_spearman']:.3f}; "
            f"ES max |diff| {r['es_max_abs_diff']:.1e}"
        )
    return benchlib.row(
        "enrichment (GSEA prerank)",
        f"{r['ranking']}: {r['genes']} genes x {r['sets_tested']} sets",
        ours_s=r["seconds_ours"],
        ours_peak_mb=r["peak_mb_ours"],
        reference=f"gseapy.prerank ({threads} threads)" if "seconds_gseapy" in r else None,
        ref_s=r.get("seconds_gseapy"),
        ref_peak_mb=r.get("peak_mb_gseapy"),
        agreement=agree,
        load_start=r.get("load_start"),
        load_end=r.get("load_end"),
        note=f"prerank call only, {s['permutations']} permutations, same sets and seed; "
        "peak = each implementation's process",
    )


def agreement(ours: pd.DataFrame, theirs: pd.DataFrame, fdr: float = 0.05) -> dict:
    both = ours[["ES", "NES", "FDR"]].join(
        theirs[["ES", "NES", "FDR"]], how="inner", lsuffix="_ours", rsuffix="_gseapy"
    )
    sig_o = set(both.index[both["FDR_ours"] < fdr])
    sig_g = set(both.index[both["FDR_gseapy"] < fdr])
    top_o = set(both["FDR_ours"].sort_values(kind="mergesort").index[:20])
    top_g = set(both["FDR_gseapy"].sort_values(kind="mergesort").index[:20])
    return {
        "sets_ours": len(ours),
        "sets_gseapy": len(theirs),
        "sets_compared": len(both),
        "es_max_abs_diff": float((both["ES_ours"] - both["ES_gseapy"]).abs().max()),
        "nes_pearson": float(both["NES_ours"].corr(both["NES_gseapy"])),
        "nes_max_abs_diff": float((both["NES_ours"] - both["NES_gseapy"]).abs().max()),
        "nes_median_rel_diff": float(
            ((both["NES_ours"] - both["NES_gseapy"]).abs() / both["NES_gseapy"].abs()).median()
        ),
        "fdr_spearman": float(both["FDR_ours"].corr(both["FDR_gseapy"], method="spearman")),
        "sig_ours": len(sig_o),
        "sig_gseapy": len(sig_g),
        "sig_jaccard": len(sig_o & sig_g) / len(sig_o | sig_g) if sig_o | sig_g else 1.0,
        "top20_overlap": len(top_o & top_g),
    }


def exactness(ranking: pd.Series, sets, s: dict, threads: int, permutations: int = 200) -> dict:
    """Our statistics on gseapy's null scores vs gseapy's own values (should be ~0)."""
    from gseapy.gse import prerank_rs

    gmt = {}
    position = set(ranking.index)
    for g in sets:
        found = [x for x in dict.fromkeys(g.genes) if x in position]
        if s["min_size"] <= len(found) <= s["max_size"]:
            gmt[f"{g.source}__{g.term}"] = found
    res = prerank_rs(
        list(ranking.index),
        ranking.tolist(),
        gmt,
        float(s["weight"]),
        s["min_size"],
        s["max_size"],
        permutations,
        threads,
        s["seed"],
    )
    summ = res.summaries
    if not summ:
        return {}
    es = np.array([x.es for x in summ])
    esnull = np.array([x.esnull for x in summ])
    groups = [x.term.split("__", 1)[0] for x in summ]
    stats = enrichment.gsea_statistics(es, esnull, groups)
    out = {}
    for theirs, ours in (
        ("nes", "NES"),
        ("pval", "pvalue"),
        ("fdr", "FDR"),
        ("fwerp", "fwer_pvalue"),
    ):
        g = np.array([getattr(x, theirs) for x in summ])
        out[f"exact_{ours}_max_abs_diff"] = float(np.nanmax(np.abs(g - stats[ours].to_numpy())))
    # Observed ES from our vectorised walk on the same hits.
    idx = {gene: i for i, gene in enumerate(ranking.index)}
    weights = np.abs(ranking.to_numpy()) ** s["weight"]
    hits = [np.array(sorted(idx[g] for g in gmt[x.term])) for x in summ]
    ours_es = np.array([enrichment.enrichment_scores(h[None, :], weights)[0] for h in hits])
    out["exact_ES_max_abs_diff"] = float(np.abs(ours_es - es).max())
    # Same null distribution? Two-sample KS test of null ES for the three largest sets.
    from scipy.stats import ks_2samp

    order = np.argsort([-len(gmt[x.term]) for x in summ])[:3]
    ours_null = enrichment._null_scores(
        [hits[i] for i in order], weights, permutations, s["seed"] + 1
    )
    out["null_ks_min_p"] = float(
        min(ks_2samp(ours_null[j], esnull[i]).pvalue for j, i in enumerate(order))
    )
    return out


def de_tables(workdir: Path, snrna: bool = False) -> list[Path]:
    paths = sorted(glob.glob(str(workdir / "results" / "bulk" / "de" / "*.tsv")))
    if snrna:
        paths += sorted(glob.glob(str(workdir / "results" / "snrna" / "de" / "*" / "*.tsv")))
    paths += sorted(glob.glob(str(workdir / "results" / "rescue" / "bulk" / "interaction_de.tsv")))
    return [Path(p) for p in paths if not p.endswith("summary.tsv")]


def real_rankings(cache: Path) -> dict[str, pd.Series]:
    """DESeq2 Wald statistics of two public mouse data sets (cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, loader in (
        ("hippocampus_DG_vs_CA1", _hippocampus),
        ("accumbens_cocaine_vs_saline", _accumbens),
    ):
        path = cache / f"{name}.tsv"
        if not path.exists():
            counts, genes, groups = loader()
            table = _deseq_stat(counts, genes, groups)
            io.write_tsv(table, path, index=False)
        out[name] = enrichment.ranking_from_de(io.read_tsv(path, index_col=None))
    return out


def _hippocampus():
    base = REALDATA / "IntegrativeProjectWT2015"
    counts = pd.read_csv(base / "00_countData.csv", index_col=0)
    col = pd.read_csv(base / "00_colData.csv", index_col=0)
    keep = col.index[col["subfield"].isin(["DG", "CA1"])]
    counts = counts[keep]
    genes = pd.DataFrame({"gene": counts.index}, index=counts.index.rename("gene_id"))
    groups = col.loc[keep, "subfield"].map({"DG": "target", "CA1": "reference"})
    return counts.rename_axis("gene_id"), genes, groups


def _accumbens():
    counts, genes = io.read_count_matrix(
        REALDATA / "RodentAddiction" / "carpenter_gene_count_matrix_28abs.csv"
    )
    groups = pd.Series(
        {c: "target" if c.split("_")[1].startswith("C") else "reference" for c in counts.columns}
    )
    return counts, genes, groups


def _deseq_stat(counts: pd.DataFrame, genes: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    from acc_tiam1 import de
    from acc_tiam1.design import Contrast

    counts = counts[(counts >= 10).sum(axis=1) >= 3]
    coldata = pd.DataFrame(
        {"group": pd.Categorical(groups[counts.columns], categories=["reference", "target"])},
        index=counts.columns,
    )
    dds = de.fit_deseq(counts, coldata, "~ group")
    return de.contrast_table(
        dds,
        Contrast("bench", "group", "target", "reference"),
        genes.loc[counts.index],
        shrink=False,
    )


def stage(args, s: dict) -> dict:
    """Time the enrichment + rescue stage with the extra GMT files added to ``genesets:``.

    Runs in ``--workdir`` when it is a workflow copy with results (never in the repository
    itself), otherwise in a fresh copy. Everything upstream (demo, QC, DE, the interaction
    fit) is brought up to date first and not timed; then every stage rule is forced to run.
    """
    if args.workdir.resolve() != REPO:
        wf = args.workdir
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import COPY_IGNORE

        wf = Path(tempfile.mkdtemp(prefix="enrich_stage_")) / "wf"
        shutil.copytree(REPO, wf, ignore=COPY_IGNORE)
    config = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    config["genesets"] = list(config.get("genesets", [])) + [
        str(Path(g).resolve()) for g in args.gmt
    ]
    if args.permutations:
        config.setdefault("enrichment", {})["permutations"] = args.permutations
    (wf / "bench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    base = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "bench.yaml"]
    subprocess.run(
        [*base, "--omit-from", *STAGE_RULES],
        cwd=wf,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*base, "--forcerun", *STAGE_RULES], cwd=wf, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    jobs = proc.stdout.count("Finished jobid") + proc.stderr.count("Finished jobid")
    tables = glob.glob(str(wf / "results" / "enrichment" / "**" / "*.tsv"), recursive=True)
    print(f"stage folder: {wf}")
    return {
        "ranking": "whole enrichment + rescue stage (snakemake, 2 cores)",
        "seconds_ours": round(seconds, 1),
        "stage_jobs": jobs,
        "enrichment_tables": len(tables),
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    started = benchlib.now()
    print(benchlib.machine_line(), flush=True)
    s = settings(args)
    sets = enrichment.read_genesets(s["genesets"])
    print(
        f"{len(sets)} gene sets from {len(s['genesets'])} file(s); min/max size "
        f"{s['min_size']}/{s['max_size']}; {s['permutations']} permutations; seed {s['seed']}"
    )
    rankings: dict[str, pd.Series] = {}
    if args.tables:
        for path in de_tables(args.workdir, args.snrna_tables):
            rel = path.relative_to(args.workdir)
            rankings[str(rel)] = enrichment.ranking_from_de(io.read_tsv(path, index_col=None))
    if args.real:
        rankings.update(real_rankings(args.cache))
    rows = []
    for name, ranking in rankings.items():
        row = measure_ranking(name, ranking, sets, s, args)
        rows.append(row)
        print(pd.Series(row).to_string(), flush=True)
        print()
    if args.stage:
        load_start = benchlib.loadavg()
        row = stage(args, s)
        row["load_start"], row["load_end"] = load_start, benchlib.loadavg()
        rows.append(row)
        print(pd.Series(row).to_string())
    table = pd.DataFrame(rows)
    io.write_tsv(table, args.out, index=False)
    if len(table):
        cols = [
            c
            for c in (
                "ranking",
                "genes",
                "sets_tested",
                "seconds_ours",
                "seconds_gseapy",
                "peak_mb_ours",
                "peak_mb_gseapy",
                "speedup",
                "nes_pearson",
                "fdr_spearman",
                "sig_jaccard",
                "load_start",
                "load_end",
            )
            if c in table
        ]
        print(table[cols].to_string(index=False))
    print(f"written: {args.out}")
    benchlib.write_results(
        args.json,
        "enrichment_benchmark.py",
        [result_row(r, s, args.threads) for r in rows],
        started,
        {"rankings": rows},
    )


if __name__ == "__main__":
    main()
