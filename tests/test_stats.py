"""The one Benjamini-Hochberg of the library, with R's handling of missing p-values, and
error control across datasets: worked examples, NaN handling, FDR control by simulation."""

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import stats
from acc_tiam1.errors import InputError
from scipy.stats import norm


def test_bh_matches_definition_and_keeps_nan_out_of_the_count():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    adj = stats.bh_adjust(p)
    assert np.isnan(adj[3])
    # m = 4: 0.01*4/1, min(0.03*4/2, 0.04*4/3), 0.04*4/3, 0.5*4/4
    np.testing.assert_allclose(adj[[0, 1, 2, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5], rtol=1e-12)


NAN = np.nan


def example() -> pd.DataFrame:
    """Three datasets; B has an untested set. Worked by hand below."""
    return pd.DataFrame(
        {
            "dataset": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
            "term": ["s1", "s2", "s3"] * 3,
            "pvalue": [0.001, 0.02, 0.04, 0.03, 0.5, NAN, 0.2, 0.6, 0.9],
        }
    )


def test_worked_example_by_hand():
    out = stats.adjust_across_datasets(example(), q=0.1)
    # Within-dataset BH. A: 0.001*3, 0.02*3/2, 0.04. B (2 tests): 0.03*2, 0.5.
    # C: 0.2*3 = 0.6, then 0.6*3/2 = 0.9 and 0.9.
    np.testing.assert_allclose(
        out["fdr_within"], [0.003, 0.03, 0.04, 0.06, 0.5, NAN, 0.6, 0.9, 0.9]
    )
    # Simes = smallest within-BH value: 0.003, 0.06, 0.6; BH over 3 families:
    # 0.009, 0.09, 0.6.
    np.testing.assert_allclose(out["family_pvalue"], np.repeat([0.003, 0.06, 0.6], 3))
    np.testing.assert_allclose(out["family_fdr"], np.repeat([0.009, 0.09, 0.6], 3))
    assert out["family_selected"].tolist() == [True] * 6 + [False] * 3
    # Global BH over the 8 p-values: 0.001*8, then 0.02, 0.03, 0.04 -> 0.04*8/4 = 0.08,
    # 0.2*8/5 = 0.32, 0.5*8/6, 0.6*8/7, 0.9.
    np.testing.assert_allclose(
        out["fdr_global"], [0.008, 0.08, 0.08, 0.08, 4 / 6, NAN, 0.32, 4.8 / 7, 0.9]
    )
    # bb_adjusted = min_k max(a_(k), family_fdr, 3 * fdr_within / k), a = (.009, .09, .6).
    # A/s1: k=1 -> max(.009, .009, .009). A/s2: k=2 -> max(.09, .009, .045) = .09.
    # B/s1: k=2 -> max(.09, .09, .09). B/s2: k=3 -> max(.6, .09, .5) = .6.
    # C: k=3 -> max(.6, .6, fdr_within).
    np.testing.assert_allclose(
        out["bb_adjusted"], [0.009, 0.09, 0.09, 0.09, 0.6, NAN, 0.6, 0.9, 0.9]
    )
    # At q = 0.1 two families are selected (R/m = 2/3): BH within at level 0.0667 rejects
    # all of A and B/s1; at q = 0.05 only A is selected and only A/s1 passes 0.05/3.
    assert (out["bb_adjusted"] <= 0.1).tolist() == [True] * 4 + [False] * 5
    assert (out["bb_adjusted"] <= 0.05).tolist() == [True] + [False] * 8


def test_nan_is_kept_and_not_counted():
    t = example()
    with_nan = stats.adjust_across_datasets(t)
    without = stats.adjust_across_datasets(t.dropna().reset_index(drop=True))
    kept = with_nan.dropna(subset=["pvalue"]).reset_index(drop=True)
    cols = ["fdr_within", "fdr_global", "family_pvalue", "family_fdr", "bb_adjusted"]
    pd.testing.assert_frame_equal(kept[cols], without[cols])
    assert with_nan.loc[5, ["fdr_within", "fdr_global", "bb_adjusted"]].isna().all()
    # A dataset without any p-value is not a family: it changes nothing for the others.
    extra = pd.concat(
        [t, pd.DataFrame({"dataset": "D", "term": ["s1", "s2"], "pvalue": [NAN, NAN]})],
        ignore_index=True,
    )
    out = stats.adjust_across_datasets(extra)
    pd.testing.assert_frame_equal(out.iloc[:9][cols], with_nan[cols])
    assert out.iloc[9:][cols].isna().all().all()
    assert not out.iloc[9:]["family_selected"].any()


def test_bh_matches_r_p_adjust_formula_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=50) ** 3
    order = np.argsort(p)
    ranked = p[order] * 50 / np.arange(1, 51)
    expected = np.empty(50)
    expected[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    np.testing.assert_allclose(stats.bh_adjust(p), expected)
    with pytest.raises(InputError, match="between 0 and 1"):
        stats.bh_adjust([0.1, 1.5])
    with pytest.raises(InputError, match="lacks column"):
        stats.benjamini_bogomolov(pd.DataFrame({"dataset": ["a"]}))


def test_bh_along_an_axis_is_one_family_per_slice():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=(3, 4, 7)) ** 2
    p[0, 1, [2, 5]] = np.nan
    p[2, 3, :] = np.nan
    for axis in (-1, 0, 1):
        out = stats.bh_adjust(p, axis=axis)
        moved_p, moved_out = np.moveaxis(p, axis, -1), np.moveaxis(out, axis, -1)
        for idx in np.ndindex(moved_p.shape[:-1]):
            np.testing.assert_array_equal(moved_out[idx], stats.bh_adjust(moved_p[idx]))
    # The default pools every value, as before: one family of all non-NaN p-values.
    pooled = stats.bh_adjust(p)
    ok = ~np.isnan(p)
    np.testing.assert_array_equal(pooled[ok], stats.bh_adjust(p[ok]))
    assert np.isnan(pooled[~ok]).all()


def _bb_by_the_book(table: pd.DataFrame, q: float) -> np.ndarray:
    """Benjamini-Bogomolov written out step by step: which rows it rejects at q."""
    fam_p = {}
    for name, sub in table.groupby("dataset"):
        p = sub["pvalue"].dropna().sort_values().to_numpy()
        if p.size:
            fam_p[name] = np.min(p * p.size / np.arange(1, p.size + 1))
    names = list(fam_p)
    pf = np.array([fam_p[n] for n in names])
    order = np.argsort(pf)
    passing = np.flatnonzero(pf[order] <= q * np.arange(1, pf.size + 1) / pf.size)
    selected = {names[i] for i in order[: passing.max() + 1]} if passing.size else set()
    level = q * len(selected) / len(names)
    reject = np.zeros(len(table), dtype=bool)
    for name in selected:
        rows = np.flatnonzero(
            (table["dataset"] == name).to_numpy() & table["pvalue"].notna().to_numpy()
        )
        p = table["pvalue"].to_numpy()[rows]
        o = np.argsort(p)
        ok = np.flatnonzero(p[o] <= level * np.arange(1, p.size + 1) / p.size)
        if ok.size:
            reject[rows[o[: ok.max() + 1]]] = True
    return reject


def test_bb_adjusted_reproduces_the_procedure_at_every_level():
    rng = np.random.default_rng(1)
    for rep in range(30):
        t = simulate(rng, n_families=8, n_sets=5, signal={0: 3, 1: 2, 2: 1}, effect=2.5)
        t.loc[rng.random(len(t)) < 0.1, "pvalue"] = NAN
        out = stats.benjamini_bogomolov(t)
        for q in (0.01, 0.05, 0.1, 0.2, 0.5):
            assert ((out["bb_adjusted"] <= q).to_numpy() == _bb_by_the_book(t, q)).all(), rep


def simulate(rng, n_families: int, n_sets: int, signal: dict[int, int], effect: float):
    """Independent two-sided z-test p-values; ``signal[f]`` non-null sets in family f."""
    z = rng.normal(size=(n_families, n_sets))
    truth = np.zeros((n_families, n_sets), dtype=bool)
    for f, k in signal.items():
        truth[f, :k] = True
    z[truth] += effect
    return pd.DataFrame(
        {
            "dataset": np.repeat([f"ct{f:02d}" for f in range(n_families)], n_sets),
            "term": np.tile([f"set{s}" for s in range(n_sets)], n_families),
            "pvalue": 2 * norm.sf(np.abs(z)).ravel(),
            "true_effect": truth.ravel(),
        }
    )


def simulate_batch(
    rng, reps: int, n_families: int, n_sets: int, signal: dict[int, int], effect: float
):
    """``reps`` replicates of :func:`simulate` as arrays (reps, families, sets)."""
    truth = np.zeros((n_families, n_sets), dtype=bool)
    for f, k in signal.items():
        truth[f, :k] = True
    z = rng.normal(size=(reps, n_families, n_sets)) + effect * truth
    return 2 * norm.sf(np.abs(z)), np.broadcast_to(truth, z.shape)


def error_rates(p: np.ndarray, truth: np.ndarray, q: float) -> pd.DataFrame:
    """False discovery proportions per replicate (0 when nothing is discovered).

    ``*_pooled``: over all dataset x set claims; ``*_family``: over the datasets claimed
    (a dataset with no true effect is a false one); ``bb_selective``: mean over the
    selected datasets of the within-dataset proportion (Benjamini-Bogomolov's target).
    """
    res = stats.benjamini_bogomolov_array(p)
    null, real_family = ~truth, truth.any(axis=-1)

    def fdp(false, found):
        return false / np.maximum(found, 1)

    bh_rej = res["fdr_global"] <= q
    bb_rej = res["bb_adjusted"] <= q
    bh_found = bh_rej.any(axis=-1)
    selected = res["family_fdr"] <= q
    within = fdp((bb_rej & null).sum(-1), bb_rej.sum(-1))
    n_sel = selected.sum(-1)
    return pd.DataFrame(
        {
            "bh_pooled": fdp((bh_rej & null).sum((-1, -2)), bh_rej.sum((-1, -2))),
            "bh_family": fdp((bh_found & ~real_family).sum(-1), bh_found.sum(-1)),
            "bb_pooled": fdp((bb_rej & null).sum((-1, -2)), bb_rej.sum((-1, -2))),
            "bb_family": fdp((selected & ~real_family).sum(-1), n_sel),
            "bb_selective": np.where(
                n_sel > 0, (within * selected).sum(-1) / np.maximum(n_sel, 1), 0.0
            ),
        }
    )


def test_array_core_equals_table_api():
    rng = np.random.default_rng(7)
    t = simulate(rng, n_families=6, n_sets=4, signal={0: 2, 3: 1}, effect=3.0)
    t.loc[[1, 8, 9, 10, 11], "pvalue"] = NAN  # family ct02 has no p-value left
    table = stats.adjust_across_datasets(t)
    grid = t["pvalue"].to_numpy().reshape(6, 4)
    res = stats.benjamini_bogomolov_array(grid)
    for col in ("fdr_within", "fdr_global", "bb_adjusted"):
        np.testing.assert_array_equal(table[col].to_numpy(), res[col].ravel())
    np.testing.assert_array_equal(table["family_fdr"].to_numpy(), np.repeat(res["family_fdr"], 4))
    assert np.isnan(res["family_fdr"][2])
    assert not np.isnan(res["family_fdr"][[0, 1, 3, 4, 5]]).any()


#: Scenarios: 20 cell types x 6 focus sets, as the snRNA branch tests them. Values:
#: {cell type: number of focus sets with a true change}.
SCENARIOS = {
    "global_null": {},
    "concentrated": {0: 6, 1: 6},
    "spread": {f: 1 for f in range(8)},
    "mixed": {0: 6, 1: 3, 2: 1, 3: 1},
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_procedures_control_fdr_by_simulation(scenario):
    q, reps = 0.05, 20000
    rng = np.random.default_rng(100 + list(SCENARIOS).index(scenario))
    p, truth = simulate_batch(rng, reps, 20, 6, SCENARIOS[scenario], 3.0)
    rates = error_rates(p, truth, q)
    mean = rates.mean()
    margin = 3 * rates.std(ddof=1) / np.sqrt(reps)
    print(scenario, mean.round(4).to_dict(), margin.round(4).to_dict())
    # Guaranteed: global BH over all tests; BB at the level of datasets and on average
    # within the selected datasets.
    for rate in ("bh_pooled", "bb_family", "bb_selective"):
        assert mean[rate] <= q + margin[rate], (rate, mean.to_dict())
    if scenario == "global_null":
        assert mean["bb_pooled"] <= q + margin["bb_pooled"]
        assert mean["bh_pooled"] > q - margin["bh_pooled"]  # the bound is reached
    if scenario == "concentrated":
        # Why BB is the default for "where": global BH lets null cell types in.
        assert mean["bh_family"] > q + margin["bh_family"], mean.to_dict()
