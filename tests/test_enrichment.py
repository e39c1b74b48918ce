"""Unit tests of acc_tiam1.enrichment: the vectorised GSEA against gseapy, ORA, inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import enrichment as en
from acc_tiam1.enrichment._gsea import _null_scores
from acc_tiam1.errors import InputError


def _ranking(n=600, seed=0):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.normal(size=n))[::-1]
    return pd.Series(values, index=pd.Index([f"Gene{i:04d}" for i in range(n)], name="gene"))


def _sets(ranking, n_sets=30, seed=1, planted=3):
    """Random sets plus a few shifted to the top or the bottom of the ranking."""
    rng = np.random.default_rng(seed)
    genes = list(ranking.index)
    sets = []
    for i in range(n_sets):
        k = int(rng.integers(8, 60))
        if i < planted:
            pool = genes[:120] if i % 2 == 0 else genes[-120:]
            members = list(rng.choice(pool, size=k // 2, replace=False))
            members += list(rng.choice(genes, size=k - k // 2, replace=False))
        else:
            members = list(rng.choice(genes, size=k, replace=False))
        sets.append(en.GeneSet("lib", f"SET{i:02d}", tuple(dict.fromkeys(members))))
    return sets


def _walk_brute(values, members, weight=1.0):
    """Textbook running sum, one gene at a time: the largest |value| (first on ties)."""
    tag = np.isin(np.arange(len(values)), members)
    w = np.abs(values) ** weight
    up = w * tag / (w * tag).sum()
    down = (~tag) / (~tag).sum()
    walk = np.cumsum(up - down)
    return walk[np.argmax(np.abs(walk))]


def test_enrichment_scores_match_brute_force_walk():
    rng = np.random.default_rng(3)
    values = np.sort(rng.normal(size=300))[::-1]
    for k in (1, 5, 40, 299):
        members = np.sort(rng.choice(300, size=k, replace=False))
        ours = en.enrichment_scores(members[None, :], np.abs(values))[0]
        assert ours == pytest.approx(_walk_brute(values, members), abs=1e-12)


def test_observed_es_and_statistics_reproduce_gseapy_exactly():
    gse = pytest.importorskip("gseapy.gse")
    ranking = _ranking()
    sets = _sets(ranking)
    gmt = {f"lib__{s.term}": list(s.genes) for s in sets}
    res = gse.prerank_rs(list(ranking.index), ranking.tolist(), gmt, 1.0, 5, 500, 200, 1, 7)
    summ = res.summaries
    es = np.array([s.es for s in summ])
    esnull = np.array([s.esnull for s in summ])
    stats = en.gsea_statistics(es, esnull, ["lib"] * len(es))
    for theirs, ours in (
        ("nes", "NES"),
        ("pval", "pvalue"),
        ("fdr", "FDR"),
        ("fwerp", "fwer_pvalue"),
    ):
        expected = np.array([getattr(s, theirs) for s in summ])
        np.testing.assert_allclose(stats[ours].to_numpy(), expected, rtol=0, atol=1e-12)
    table = en.prerank(ranking, sets, 5, 500, 10, 1).set_index("term")
    for s in summ:
        assert table.loc[s.term[5:], "ES"] == pytest.approx(s.es, abs=1e-12)


def test_prerank_agrees_with_gseapy_prerank_at_equal_permutations():
    gseapy = pytest.importorskip("gseapy")
    ranking = _ranking(n=1500, seed=4)
    sets = _sets(ranking, n_sets=60, planted=6)
    ours = en.prerank(ranking, sets, 5, 500, 1000, 11).set_index("term")
    pre = gseapy.prerank(
        rnk=ranking,
        gene_sets={s.term: list(s.genes) for s in sets},
        min_size=5,
        max_size=500,
        permutation_num=1000,
        seed=11,
        threads=1,
        outdir=None,
        no_plot=True,
    )
    theirs = pre.res2d.set_index("Term")
    both = ours.join(
        theirs[["NES", "FDR q-val", "Lead_genes"]].astype({"NES": float}), rsuffix="_g", how="inner"
    )
    assert len(both) == 60
    assert both["NES"].corr(both["NES_g"]) > 0.99
    assert (both["NES"] - both["NES_g"]).abs().max() < 0.15
    assert both["FDR"].corr(both["FDR q-val"].astype(float), method="spearman") > 0.9
    sig_o = set(both.index[both["FDR"] < 0.05])
    sig_g = set(both.index[both["FDR q-val"].astype(float) < 0.05])
    assert {"SET00", "SET01", "SET02"} <= sig_o & sig_g
    assert len(sig_o ^ sig_g) <= 2
    # Leading edges are the same genes in the same order.
    assert (both["leading_edge"] == both["Lead_genes"]).all()


def test_null_depends_on_seed_and_genes_only():
    ranking = _ranking()
    sets = _sets(ranking)
    extra = [en.GeneSet("other", "X", tuple(ranking.index[:50]))]
    a = en.prerank(ranking, sets, 5, 500, 300, 5).set_index("term")
    b = en.prerank(ranking, sets + extra, 5, 500, 300, 5)
    b = b[b["source"] == "lib"].set_index("term")
    pd.testing.assert_frame_equal(a, b.loc[a.index])
    c = en.prerank(ranking, sets, 5, 500, 300, 6).set_index("term")
    assert not np.allclose(a["NES"], c.loc[a.index, "NES"])


def test_permutations_beyond_one_block_are_used():
    ranking = _ranking(n=200)
    sets = _sets(ranking, n_sets=4)
    hits = [np.sort(ranking.index.get_indexer(list(s.genes))) for s in sets]
    null = _null_scores(hits, np.abs(ranking.to_numpy()), en.PERMUTATION_BLOCK + 7, 1)
    assert null.shape == (4, en.PERMUTATION_BLOCK + 7)
    assert np.all(np.isfinite(null)) and len(np.unique(null[0])) > 100


def test_ranking_from_de_drops_missing_and_keeps_strongest_duplicate():
    table = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c", "d", "e"],
            "gene": ["Tiam1", "Rac1", "Rac1", "Pak1", "Kalrn"],
            "stat": [1.0, -3.0, 2.0, np.nan, 1.0],
        }
    )
    ranking = en.ranking_from_de(table)
    assert list(ranking.index) == ["Kalrn", "Tiam1", "Rac1"]
    assert ranking["Rac1"] == -3.0
    with pytest.raises(InputError, match="stat"):
        en.ranking_from_de(table.drop(columns="stat"), where="x.tsv")


def test_sets_without_genes_get_a_note_not_a_crash():
    ranking = _ranking(n=100)
    sets = [
        en.GeneSet("lib", "NONE", ("Absent1", "Absent2")),
        en.GeneSet("lib", "FEW", ("Gene0001", "Gene0002", "Absent")),
        en.GeneSet("lib", "OK", tuple(ranking.index[:10])),
    ]
    table = en.prerank(ranking, sets, 5, 500, 50, 1).set_index("term")
    assert not table.loc["NONE", "tested"] and np.isnan(table.loc["NONE", "NES"])
    assert "none of its 2 genes" in table.loc["NONE", "note"]
    assert "only 2 of 3 genes found" in table.loc["FEW", "note"]
    assert table.loc["OK", "tested"] and table.loc["OK", "NES"] > 0
    assert list(table.reset_index().columns[:8]) == en.GSEA_COLUMNS[:8]
    nothing = en.prerank(ranking, sets[:2], 5, 500, 50, 1)
    assert not nothing["tested"].any()


def test_read_genesets_keeps_sources_and_rejects_bad_files(tmp_path):
    good = tmp_path / "curated.gmt"
    good.write_text("A\tdesc\tTiam1\tRac1\nB\tdesc\tPak1\n")
    other = tmp_path / "sub" / "curated.gmt"
    other.parent.mkdir()
    other.write_text("C\tdesc\tFos\n")
    sets = en.read_genesets([good])
    assert [(s.source, s.term, s.genes) for s in sets] == [
        ("curated", "A", ("Tiam1", "Rac1")),
        ("curated", "B", ("Pak1",)),
    ]
    with pytest.raises(InputError, match="both called 'curated'"):
        en.read_genesets([good, other])
    bad = tmp_path / "bad.gmt"
    bad.write_text("A\tdesc\tTiam1\nB only-a-name\n")
    with pytest.raises(InputError, match=r"bad\.gmt.*line 2"):
        en.read_genesets([bad])


def test_ora_matches_hypergeometric_test_and_notes_empty_directions():
    from scipy.stats import hypergeom

    genes = [f"G{i}" for i in range(200)]
    padj = np.full(200, 0.5)
    padj[:20] = 0.001
    lfc = np.where(np.arange(200) < 20, 1.0, -0.1)
    table = pd.DataFrame({"gene": genes, "log2FoldChange": lfc, "padj": padj})
    table.loc[199, "padj"] = np.nan  # untested gene: not in the background
    sets = [
        en.GeneSet("lib", "TOP", tuple(genes[:10] + genes[100:110])),
        en.GeneSet("lib", "RANDOM", tuple(genes[150:170])),
        en.GeneSet("lib", "TINY", ("G1", "G2")),
    ]
    out = en.ora(table, sets, padj=0.05, min_size=5, max_size=500)
    up = out[out["direction"] == "up"].set_index("term")
    assert "TINY" not in up.index and "RANDOM" not in up.index
    assert up.loc["TOP", "overlap"] == 10 and up.loc["TOP", "background_size"] == 199
    expected = hypergeom.sf(10 - 1, 199, 20, 20)
    assert up.loc["TOP", "pvalue"] == pytest.approx(expected, rel=1e-9)
    # BH over both tested sets (RANDOM has p = 1).
    assert up.loc["TOP", "FDR"] == pytest.approx(min(1.0, expected * 2), rel=1e-9)
    down = out[out["direction"] == "down"]
    assert len(down) == 1 and down["term"].isna().all()
    assert "no down-regulated genes" in down["note"].iloc[0]


def test_summaries_select_sets_and_coverage():
    def table(nes, fdr, found):
        return pd.DataFrame(
            {
                "term": ["CORE", "ACT", "X"],
                "source": "lib",
                "NES": nes,
                "FDR": fdr,
                "set_size": [59, 24, 10],
                "genes_found": found,
                "tested": [True, True, found[2] >= 5],
            }
        )

    tables = {
        "bulk:p": table([2.5, 2.0, -1.0], [0.0, 0.01, 0.04], [59, 24, 10]),
        "snrna/L23_IT:p": table([2.0, 1.1, np.nan], [0.01, 0.3, np.nan], [50, 20, 3]),
    }
    meta = {
        "bulk:p": {"dataset": "bulk", "contrast": "p"},
        "snrna/L23_IT:p": {"dataset": "snrna/L23_IT", "contrast": "p"},
    }
    long = en.long_results(tables, meta)
    chosen = en.select_sets(long, ["ACT"], top=5, fdr=0.05)
    assert chosen == [("lib", "ACT"), ("lib", "CORE"), ("lib", "X")]
    nes, _fdr = en.nes_matrix(long, chosen, ["bulk", "snrna/L23_IT"])
    assert nes.loc["snrna/L23_IT", "X"] != nes.loc["snrna/L23_IT", "X"]  # NaN: not tested
    cov = en.coverage_table({"bulk": tables["bulk:p"], "L23_IT": tables["snrna/L23_IT:p"]})
    assert cov.set_index("term").loc["X", ["bulk", "L23_IT", "tested_in"]].tolist() == [10, 3, 1]
    comp = en.bulk_vs_pseudobulk(long, ["CORE"], 0.05)
    assert comp.loc[0, "dataset"] == "snrna/L23_IT" and comp.loc[0, "CORE_NES_cell"] == 2.0


def test_ora_summary():
    ora = pd.DataFrame(
        {
            "direction": ["up", "up", "down"],
            "term": ["A", "B", np.nan],
            "source": ["lib", "lib", np.nan],
            "query_size": [12, 12, 0],
            "background_size": [900, 900, 900],
            "pvalue": [1e-6, 0.2, np.nan],
            "FDR": [1e-5, 0.3, np.nan],
            "note": ["", "", "no down genes"],
        }
    )
    out = en.ora_summary(ora.assign(dataset="bulk", contrast="c"), 0.05)
    assert (out["dataset"] == "bulk").all() and (out["contrast"] == "c").all()
    up = out.set_index("direction").loc["up"]
    assert up["sets_fdr_below"] == 1 and up["top_sets"] == "A (lib)" and up["genes_called"] == 12
    assert out.set_index("direction").loc["down", "note"] == "no down genes"
