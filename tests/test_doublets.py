"""Doublets: scrublet's threshold from its simulated doublets, marker co-expression robust
to ambient RNA, and which rule removed each nucleus."""

from __future__ import annotations

import warnings

import anndata as ad
import nuclei_sim as ns
import numpy as np
import pytest
import scanpy as sc
from acc_tiam1.errors import InputError
from acc_tiam1.snrna import _contamination as ambient_estimate
from acc_tiam1.snrna import _doublets as doublets
from test_ambient import empty_soup


def issue_like_scores(seed=0, n=4000, n_sim=8000, rate=0.05):
    """Scores as scrublet gave them on the demo: doublets median 0.09, singlets 0.03, and a
    simulated-doublet histogram with no second mode (many pairs of one type)."""
    rng = np.random.default_rng(seed)
    n_dbl = int(rate * n)
    singlets = rng.beta(2, 60, n - n_dbl)  # median ~0.03
    dbl = rng.beta(3, 28, n_dbl)  # median ~0.09
    homotypic = rng.beta(2, 60, int(0.3 * n_sim))
    hetero = rng.beta(2.5, 18, n_sim - homotypic.size)
    obs = np.concatenate([singlets, dbl])
    truth = np.r_[np.zeros(singlets.size, bool), np.ones(n_dbl, bool)]
    return obs, np.concatenate([homotypic, hetero]), truth


def test_threshold_holds_without_a_bimodal_histogram():
    from skimage.filters import threshold_minimum

    for seed in range(5):
        obs, sim, truth = issue_like_scores(seed)
        th = doublets.scrublet_threshold(obs, sim, 0.05)
        called = obs > th.threshold
        # scrublet's own rule: the minimum between the two modes of the sim histogram
        try:
            auto = threshold_minimum(sim)
        except RuntimeError:
            auto = np.inf
        assert (obs[truth] > auto).mean() < 0.05  # the issue: almost no doublet caught
        # ours: close to the best any threshold can do while losing <= 2% of singlets
        best = (obs[truth] > np.quantile(obs[~truth], 0.98)).mean()
        assert called[~truth].mean() <= 0.02
        assert called[truth].mean() >= max(0.4, best - 0.1)
        assert th.homotypic_fraction == pytest.approx((sim < 0.05).mean())
        assert th.n_called == called.sum()


def test_threshold_uses_clusters_for_homotypic_share():
    obs, sim, _ = issue_like_scores(1)
    clusters = np.repeat(["a", "b", "c", "d"], obs.size // 4)
    th = doublets.scrublet_threshold(obs, sim, 0.05, clusters=clusters)
    assert th.homotypic_fraction == pytest.approx(0.25)
    assert th.expected_rate == pytest.approx(0.0375)


def test_threshold_checks_input():
    with pytest.raises(InputError, match="simulated"):
        doublets.scrublet_threshold(np.array([0.1]), np.array([]), 0.05)
    with pytest.raises(InputError, match="stringency"):
        doublets.scrublet_threshold(np.array([0.1]), np.array([0.2]), 0.05, stringency=1.0)


def test_combine_calls_names_the_rule():
    out = doublets.combine_calls(
        [True, True, False, False], [True, False, True, False], index=list("abcd")
    )
    assert out.index.tolist() == list("abcd")
    assert out["doublet"].tolist() == [True, True, True, False]
    assert out["doublet_rule"].tolist() == ["scrublet+coexpression", "scrublet", "coexpression", ""]
    with pytest.raises(InputError):
        doublets.combine_calls([True], [True, False])


@pytest.fixture(scope="module")
def doublet_samples():
    """Three samples, 5% heterotypic doublets, ambient RNA, within-type variation."""
    study = ns.build_study(seed=0, n_genes=2000)
    out = []
    for seed, rho, depth in ((1, 0.05, 0.5), (2, 0.1, 0.5), (3, 0.2, 0.5)):
        s = ns.simulate_sample(
            study, rho, n_nuclei=3000, seed=seed, doublet_rate=0.05, depth=depth, states=True
        )
        a = ad.AnnData(X=s.counts.astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.pp.scrublet(
                a,
                expected_doublet_rate=0.05,
                n_prin_comps=30,
                use_approx_neighbors=False,
                random_state=0,
                verbose=False,
            )
        soup = empty_soup(s)
        est = ambient_estimate.estimate_contamination(
            s.counts, study.symbols, s.truth["cell_type"], study.markers, soup, "S", n_boot=0
        )
        out.append((study, s, a, soup, est))
    return out


def test_doublets_caught_per_pair_class(doublet_samples):
    rows = []
    for study, s, a, soup, est in doublet_samples:
        th = doublets.scrublet_threshold(
            a.obs["doublet_score"], a.uns["scrublet"]["doublet_scores_sim"], 0.05
        )
        scrub = a.obs["doublet_score"].to_numpy() > th.threshold
        co = doublets.coexpression_doublets(
            s.counts,
            study.symbols,
            study.markers,
            s.truth["cell_type"],
            est.ambient_umis,
            soup.profile,
        )
        calls = doublets.combine_calls(scrub, co["coexpression_doublet"])
        rows.append(
            s.truth.assign(
                removed=calls["doublet"].to_numpy(), rule=calls["doublet_rule"].to_numpy()
            )
        )
    import pandas as pd

    t = pd.concat(rows, ignore_index=True)
    recall = t.groupby("pair_class")["removed"].mean()
    print(
        "\nrecall per pair class:",
        recall.round(3).to_dict(),
        "n:",
        t["pair_class"].value_counts().to_dict(),
    )
    assert recall["neuron-glia"] >= 0.8
    assert t.loc[t["doublet"], "removed"].mean() >= 0.5
    assert recall["singlet"] <= 0.02
    # co-expression is what catches the neuron-glia doublets scrublet misses
    ng = t[t["pair_class"] == "neuron-glia"]
    assert ng["rule"].str.contains("coexpression").mean() >= 0.7


def test_coexpression_is_not_fooled_by_ambient_rna():
    """Heavy soup, all of it neuronal in glia: no glial singlet becomes a doublet."""
    study = ns.build_study(seed=0)
    s = ns.simulate_sample(study, 0.3, n_nuclei=2000, seed=11, doublet_rate=0.05)
    soup = empty_soup(s)
    est = ambient_estimate.estimate_contamination(
        s.counts, study.symbols, s.truth["cell_type"], study.markers, soup, "S", n_boot=0
    )
    co = doublets.coexpression_doublets(
        s.counts, study.symbols, study.markers, s.truth["cell_type"], est.ambient_umis, soup.profile
    )
    singlet = ~s.truth["doublet"].to_numpy()
    glia = (s.truth["class"] == "Non-neuronal").to_numpy()
    assert co.loc[singlet & glia, "coexpression_doublet"].mean() <= 0.005
    assert co.loc[singlet, "coexpression_doublet"].mean() <= 0.005
    ng = (s.truth["pair_class"] == "neuron-glia").to_numpy()
    assert co.loc[ng, "coexpression_doublet"].mean() >= 0.8
    # the soup is what makes this hard: a naive neuronal-gene rule flags nearly every
    # glial singlet, and the same rule without the soup expectation flags some of them
    m = np.asarray(
        s.counts[:, np.isin(study.symbols, ["Snap25", "Syt1", "Meis2"])].sum(axis=1)
    ).ravel()
    assert (m[singlet & glia] >= 3).mean() > 0.9
    no_soup = doublets.coexpression_doublets(
        s.counts, study.symbols, study.markers, s.truth["cell_type"]
    )
    assert no_soup.loc[singlet & glia, "coexpression_doublet"].mean() >= 0.01


def test_coexpression_input_checks():
    study = ns.build_study(seed=0, n_genes=600)
    s = ns.simulate_sample(study, 0.05, n_nuclei=300, seed=1)
    with pytest.raises(InputError, match="both"):
        doublets.coexpression_doublets(
            s.counts, study.symbols, study.markers, s.truth["cell_type"], ambient_umis=np.ones(300)
        )
    out = doublets.coexpression_doublets(
        s.counts, study.symbols, study.markers, s.truth["cell_type"], index=s.barcodes
    )
    assert out.index.tolist() == list(s.barcodes)
    assert list(out.columns[-3:]) == ["classes", "coexpression_doublet", "reason"]
    assert len(out) == 300
