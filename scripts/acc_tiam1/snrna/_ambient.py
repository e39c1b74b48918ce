"""The ambient-RNA step of one sample, after annotation: contamination and doublets.

The contamination estimate needs every nucleus' cell type, so it runs once nuclei are
annotated (:func:`sample_ambient`); the soup profile was taken at QC
(:func:`acc_tiam1.snrna.sample_soup`). The correction itself
(:func:`acc_tiam1.snrna._ambient_correct.correct_counts`) is deterministic given the
ambient UMIs of every nucleus and the soup, so the steps that need corrected counts (the
pseudobulk sums, the final object) recompute it from this step's tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._contamination import estimate_contamination
from ._doublets import coexpression_doublets
from ._names import safe_name
from ._soup import SoupProfile

#: Ambient methods of the config (``snrna.ambient.method``).
METHODS = ("soup", "none")


def read_soup(table: pd.DataFrame, summary: Mapping, var_names) -> SoupProfile:
    """The soup profile written at QC, over ``var_names`` (genes not in it get 0).

    Parameters
    ----------
    table
        The soup table (:func:`acc_tiam1.snrna.soup_table`).
    summary
        The sample's QC summary row (``soup_basis``, ``soup_droplets``, ``soup_umis``).
    var_names
        Gene ids of the counts the profile is used with.

    Returns
    -------
    SoupProfile
        Profile renormalised to sum to 1 over ``var_names``.
    """
    soup = table.set_index(table["gene_id"].astype(str))["soup"]
    profile = soup.reindex(pd.Index(var_names).astype(str)).fillna(0.0).to_numpy(dtype=float)
    total = profile.sum()
    profile = profile / total if total > 0 else profile
    return SoupProfile(
        profile,
        str(summary.get("soup_basis", "nuclei")),
        int(summary.get("soup_droplets", 0)),
        int(summary.get("soup_umis", 0)),
    )


def sample_ambient(
    adata,
    cell_types: pd.Series,
    markers: pd.DataFrame,
    soup: SoupProfile,
    sample: str,
    method: str = "soup",
    coexpression: bool = True,
    seed: int = 0,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Contamination and co-expression doublets of one sample's annotated nuclei.

    Parameters
    ----------
    adata
        The sample's QC'd nuclei, raw counts in ``X``, ``var["gene"]`` symbols.
    cell_types
        Annotated cell type of every nucleus (index: nucleus names).
    markers
        Marker table with classes.
    soup
        The sample's soup profile over ``adata``'s genes.
    sample
        Sample id.
    method
        ``"soup"`` estimates the contamination; ``"none"`` leaves it out (no correction,
        and the doublet rule then has no ambient expectation).
    coexpression
        Call nuclei that express the markers of two exclusive classes doublets.
    seed
        Random state of the bootstrap interval.

    Returns
    -------
    row
        The sample's contamination and its basis (one row of the contamination table).
    per_set
        The estimate per pair of exclusive classes (how well they agree).
    nuclei
        Per nucleus: ``ambient_umis`` (expected ambient UMIs, 0 with ``"none"``) and
        ``coexpression_doublet`` with the class shares behind it.
    """
    symbols = adata.var["gene"].astype(str).to_numpy()
    types = cell_types.reindex(adata.obs_names).astype(str).to_numpy()
    if method == "soup":
        est = estimate_contamination(
            adata.X, symbols, types, markers, soup, sample=sample, seed=seed
        )
        row, per_set, ambient = dict(est.row), est.per_set, est.ambient_umis
    else:
        row = {"sample": sample, "rho": np.nan, "model": "none", **soup.describe()}
        per_set, ambient = pd.DataFrame(), np.zeros(adata.n_obs)
    nuclei = pd.DataFrame({"ambient_umis": ambient}, index=adata.obs_names)
    if coexpression:
        calls = coexpression_doublets(
            adata.X,
            symbols,
            markers,
            types,
            ambient_umis=ambient if method == "soup" else None,
            soup=soup.profile if method == "soup" else None,
            index=adata.obs_names,
        )
        nuclei = nuclei.join(calls)
    else:
        nuclei["coexpression_doublet"] = False
    row["coexpression_doublets"] = int(nuclei["coexpression_doublet"].sum())
    return row, per_set.assign(sample=sample) if len(per_set) else per_set, nuclei


def apply_ambient(adata, nuclei: pd.DataFrame, soup: SoupProfile | None, cell_types: pd.Series):
    """One sample's nuclei as the pseudobulk sees them: doublets out, ambient removed.

    Parameters
    ----------
    adata
        The sample's QC'd nuclei, raw counts in ``X``.
    nuclei
        The :func:`sample_ambient` table of (at least) these nuclei.
    soup
        The sample's soup profile over ``adata``'s genes; None when the ambient step is
        off (then the corrected layer equals the counts).
    cell_types
        Annotated cell type of every nucleus (index: nucleus names).

    Returns
    -------
    anndata.AnnData
        The nuclei that are not co-expression doublets, raw counts in ``X``,
        ``layers["ambient_corrected"]`` (SoupX-style subtraction by cell type,
        :func:`acc_tiam1.snrna._ambient_correct.correct_counts`), ``obs["ambient_umis"]``
        and ``obs["cell_type"]``.
    """
    from ._ambient_correct import correct_counts

    table = nuclei.reindex(adata.obs_names)
    keep = ~table["coexpression_doublet"].fillna(False).to_numpy(dtype=bool)
    out = adata[keep].copy()
    ambient = table["ambient_umis"].fillna(0.0).to_numpy(dtype=float)[keep]
    types = cell_types.reindex(out.obs_names).astype(str).to_numpy()
    out.obs["ambient_umis"] = ambient
    out.obs["cell_type"] = types
    if soup is None or not ambient.any():
        out.layers["ambient_corrected"] = out.X.copy()
    else:
        out.layers["ambient_corrected"] = correct_counts(out.X, ambient, soup.profile, types)
    return out


def ambient_by_cell_type(pb, soups: Mapping[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Per cell type, how much of each gene's pseudobulk counts the soup explains.

    Parameters
    ----------
    pb
        Pseudobulk of the nuclei (:func:`acc_tiam1.snrna.pseudobulk` with the raw counts
        in ``layers["X"]`` and ``obs["ambient_umis"]``).
    soups
        ``{sample: soup profile}`` over ``pb``'s genes.

    Returns
    -------
    dict
        ``{file-safe cell type: table}`` with ``cell_type``, ``gene_id``, ``observed``,
        ``expected_ambient``, ``ambient_fraction``, ``soup_cpm``, ``clean_cpm``
        (:func:`acc_tiam1.snrna._ambient_correct.ambient_explained_pseudobulk`).
    """
    from ._ambient_correct import ambient_explained_pseudobulk

    explained = ambient_explained_pseudobulk(
        pb.layers["X"],
        pb.obs["sample"].to_numpy(),
        pb.obs["cell_type"].to_numpy(),
        pb.obs["ambient_umis"].to_numpy(),
        soups,
        pb.var_names,
    )
    return {safe_name(t): sub.reset_index(drop=True) for t, sub in explained.groupby("cell_type")}


def sample_totals(pb, layer: str = "X") -> pd.DataFrame:
    """Counts summed over a pseudobulk's cell types: genes (symbols) x samples.

    Parameters
    ----------
    pb
        Pseudobulk (:func:`acc_tiam1.snrna.pseudobulk`).
    layer
        The layer to sum (``"X"``: the raw counts when several were summed).

    Returns
    -------
    pandas.DataFrame
        Index: gene symbols; one column per sample, in order of appearance.
    """
    x = pb.layers[layer] if layer in pb.layers else pb.X
    dense = pd.DataFrame(np.asarray(x.todense()), index=pb.obs["sample"].to_numpy())
    totals = dense.groupby(level=0, sort=False).sum().T
    totals.index = pb.var["gene"].astype(str).to_numpy()
    return totals


def read_soups(
    files: Mapping[str, tuple[str | Path, str | Path]], var_names
) -> dict[str, SoupProfile]:
    """The soup profile of every sample, written at QC (see :func:`read_soup`).

    Parameters
    ----------
    files
        ``{sample: (QC summary TSV, soup TSV)}``.
    var_names
        Gene ids of the counts the profiles are used with.
    """
    from ..io import read_tsv

    soups = {}
    for sample, (summary, table) in files.items():
        row = read_tsv(summary, index_col=None).iloc[0].to_dict()
        soups[sample] = read_soup(read_tsv(table, index_col=None), row, var_names)
    return soups


def corrected_samples(
    qc: Mapping[str, str | Path],
    nuclei: pd.DataFrame,
    cell_types: pd.Series,
    var_names,
    soups: Mapping[str, SoupProfile] | None = None,
) -> Iterator[tuple[str, object]]:
    """Every sample's nuclei as the pseudobulk and the final object see them, in turn.

    One sample is read at a time (:func:`acc_tiam1.snrna.iter_qc_samples`), narrowed to
    ``var_names``, and passed through :func:`apply_ambient`.

    Parameters
    ----------
    qc
        ``{sample: QC object path}``.
    nuclei
        The ambient step's nucleus table (:func:`sample_ambient`, every sample).
    cell_types
        Cell type of every nucleus.
    var_names
        Genes to keep (those of the integrated object).
    soups
        ``{sample: soup profile}`` over ``var_names`` (:func:`read_soups`); None or
        empty when the ambient step is off.

    Yields
    ------
    tuple
        ``(sample, AnnData)``: raw counts in ``X``, corrected ones in
        ``layers["ambient_corrected"]`` (see :func:`apply_ambient`).
    """
    from ._counts import iter_qc_samples

    soups = soups or {}
    var_names = pd.Index(var_names)
    for sample, adata in iter_qc_samples(qc):
        if not adata.var_names.equals(var_names):  # else a column copy of every count
            adata = adata[:, var_names]
        yield sample, apply_ambient(adata, nuclei, soups.get(sample), cell_types)
