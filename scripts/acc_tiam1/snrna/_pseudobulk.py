"""Pseudobulk counts per animal x cell type, sample and gene filters, and the DE plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ..de import expression_filter
from ..errors import InputError
from ._names import UNASSIGNED, safe_name


def pseudobulk(
    samples: Iterable[tuple[str, object]],
    cell_types: pd.Series,
    layers: Sequence[str | None] = (None,),
    obs_sums: Sequence[str] = (),
):
    """Sum counts per sample x cell type (``sc.get.aggregate``), one sample at a time.

    Unassigned nuclei are left out.

    Parameters
    ----------
    samples
        ``(sample, AnnData)`` pairs with counts, e.g.
        :func:`acc_tiam1.snrna.iter_qc_samples`; every object must have the same genes.
    cell_types
        Cell type of every nucleus (index: nucleus names as in the objects).
    layers
        What to sum: ``None`` is ``X``, a string a layer. The first goes into the result's
        ``X``, every one into the result's layer of the same name (``"X"`` for None).
    obs_sums
        obs columns summed too (e.g. ambient UMIs), into the result's obs.

    Returns
    -------
    anndata.AnnData
        One row per sample x cell type present, ``X`` int64 summed counts, obs
        ``sample``, ``cell_type``, ``cell_type_safe``, ``n_nuclei``, ``total_counts``
        (of ``X``) and the ``obs_sums``; var ``gene``.
    """
    import anndata as ad
    import scanpy as sc

    names = ["X" if layer is None else layer for layer in layers]
    parts, rows, var = {n: [] for n in names}, [], None
    for sample, adata in samples:
        labels = cell_types.reindex(adata.obs_names).astype(str).to_numpy()
        keep = np.flatnonzero(labels != UNASSIGNED)
        var = adata.var[["gene"]].copy() if var is None else var
        if not len(keep):
            continue
        obs = pd.DataFrame({"cell_type": labels[keep]}, index=adata.obs_names[keep])
        for layer, name in zip(layers, names, strict=True):
            counts = adata.layers[layer] if layer else adata.X
            # One sample at a time: aggregate multiplies a float indicator matrix with the
            # counts, which copies them as float64; per sample that copy stays small.
            agg = sc.get.aggregate(ad.AnnData(X=counts[keep], obs=obs), by="cell_type", func="sum")
            parts[name].append(np.rint(np.asarray(agg.layers["sum"])).astype(np.int64))
        n = obs["cell_type"].value_counts()
        groups = [str(t) for t in agg.obs["cell_type"]]
        sums = {c: adata.obs[c].to_numpy()[keep] for c in obs_sums}
        for t in groups:
            hit = obs["cell_type"].to_numpy() == t
            rows.append((sample, t, int(n[t]), *(float(v[hit].sum()) for v in sums.values())))
    matrices = {
        n: np.vstack(p) if p else np.zeros((0, len(var)), dtype=np.int64) for n, p in parts.items()
    }
    obs = pd.DataFrame(rows, columns=["sample", "cell_type", "n_nuclei", *obs_sums])
    obs.insert(2, "cell_type_safe", obs["cell_type"].map(safe_name))
    first = matrices[names[0]]
    obs.insert(4, "total_counts", first.sum(axis=1))
    obs.index = [f"{s}|{t}" for s, t in zip(obs["sample"], obs["cell_type_safe"], strict=True)]
    out = ad.AnnData(X=sparse.csr_matrix(first), obs=obs, var=var)
    if len(names) > 1:
        for name, m in matrices.items():
            out.layers[name] = sparse.csr_matrix(m)
    return out


def filter_pseudobulk_samples(obs: pd.DataFrame, min_nuclei: int, min_counts: int) -> pd.Series:
    """Why each pseudobulk sample is dropped ('' when kept)."""
    reasons = []
    for n, c in zip(obs["n_nuclei"], obs["total_counts"], strict=True):
        why = []
        if n < min_nuclei:
            why.append(f"{n} nuclei < {min_nuclei}")
        if c < min_counts:
            why.append(f"{c} counts < {min_counts}")
        reasons.append("; ".join(why))
    return pd.Series(reasons, index=obs.index, name="dropped_reason")


def plan_cell_type(
    kept_samples: Sequence[str],
    sheet: pd.DataFrame,
    design: str,
    contrasts: Sequence,
    min_group_size: int,
    sheet_path: str = "snrna.samples",
) -> list[dict]:
    """Which contrasts one cell type can be tested in, and why not.

    A contrast is tested when both its groups keep at least ``min_group_size``
    pseudobulk samples and the design can be fitted on the kept samples
    (:func:`acc_tiam1.design.validate_design`: every variable with two levels or more,
    full rank).

    Returns
    -------
    One dict per contrast: ``contrast``, ``n_target``, ``n_reference``, ``status``
    (``tested`` or ``skipped``), ``reason``.
    """
    from ..design import validate_design

    sub = sheet.loc[list(kept_samples)]
    rows = []
    for c in contrasts:
        n_t = int((sub[c.variable] == c.target).sum()) if len(sub) else 0
        n_r = int((sub[c.variable] == c.reference).sum()) if len(sub) else 0
        row = {
            "contrast": c.name,
            "n_target": n_t,
            "n_reference": n_r,
            "status": "tested",
            "reason": "",
        }
        if n_t < min_group_size or n_r < min_group_size:
            row["status"] = "skipped"
            row["reason"] = (
                f"too few replicates: {n_t} {c.target} and {n_r} {c.reference} "
                f"pseudobulk sample(s), need {min_group_size} per group"
            )
        else:
            try:
                validate_design(
                    sub, design, [c], sheet_path=sheet_path, min_replicates=min_group_size
                )
            except InputError as err:
                row["status"] = "skipped"
                row["reason"] = f"design cannot be fitted on the kept samples: {err.message}"
        rows.append(row)
    return rows


def pseudobulk_plan(
    pb,
    sheet: pd.DataFrame,
    cell_types: Sequence[str],
    design: str,
    contrasts: Sequence,
    params: Mapping,
    min_group_size: int,
    gene_filter: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Drop small pseudobulk samples, filter genes per cell type, decide what to test.

    Parameters
    ----------
    pb
        Output of :func:`pseudobulk`.
    sheet
        snRNA sample sheet indexed by sample.
    cell_types
        Every cell type of the marker table (those with no nuclei are reported too).
    design, contrasts
        Design formula and contrasts.
    params
        ``snrna.pseudobulk`` config: ``min_nuclei``, ``min_counts``, ``min_genes``.
    min_group_size
        Fewest pseudobulk samples per contrast group.
    gene_filter
        The config's ``de.filter`` (the same gene filter as bulk DE,
        :func:`acc_tiam1.de.expression_filter`).

    Returns
    -------
    samples
        One row per pseudobulk sample: nuclei, counts, ``kept`` and the reason if not.
    plan
        One row per cell type x contrast: ``status`` (tested/skipped), ``reason``,
        replicate numbers, genes after filtering.
    counts
        ``{safe cell type: genes x samples counts}`` (column ``gene`` first) for every
        cell type with at least one tested contrast.
    """
    obs = pb.obs.copy()
    obs["dropped_reason"] = filter_pseudobulk_samples(
        obs, params["min_nuclei"], params["min_counts"]
    )
    obs["kept"] = obs["dropped_reason"] == ""
    variables = sorted({c.variable for c in contrasts})
    plan_rows, out = [], {}
    genes = pb.var[["gene"]]
    for ct in cell_types:
        safe = safe_name(ct)
        here = obs[obs["cell_type"] == ct]
        kept = here[here["kept"]]
        base = {
            "cell_type": ct,
            "cell_type_safe": safe,
            "n_pseudobulk_samples": len(here),
            "n_kept": len(kept),
        }
        if len(here) == 0:
            for c in contrasts:
                plan_rows.append(
                    {
                        **base,
                        "contrast": c.name,
                        "n_target": 0,
                        "n_reference": 0,
                        "n_genes": 0,
                        "status": "skipped",
                        "reason": "no nuclei annotated as this cell type",
                    }
                )
            continue
        rows = plan_cell_type(kept["sample"], sheet, design, contrasts, min_group_size)
        n_genes = 0
        if any(r["status"] == "tested" for r in rows):
            x = pb[kept.index].X
            mat = pd.DataFrame(
                np.asarray(x.toarray() if sparse.issparse(x) else x).T.astype(np.int64),
                index=pb.var_names,
                columns=kept["sample"].to_numpy(),
            )
            mask = expression_filter(mat, sheet, variables, gene_filter)
            n_genes = int(mask.sum())
            if n_genes < params["min_genes"]:
                for r in rows:
                    if r["status"] == "tested":
                        r["status"] = "skipped"
                        r["reason"] = (
                            f"only {n_genes} genes pass the expression filter "
                            f"(< {params['min_genes']})"
                        )
            else:
                mat = mat[mask]
                mat.index.name = "gene_id"
                out[safe] = genes.loc[mat.index].join(mat)
        for r in rows:
            plan_rows.append({**base, **r, "n_genes": n_genes})
    plan = pd.DataFrame(plan_rows)[
        [
            "cell_type",
            "cell_type_safe",
            "contrast",
            "status",
            "reason",
            "n_pseudobulk_samples",
            "n_kept",
            "n_target",
            "n_reference",
            "n_genes",
        ]
    ]
    samples = obs[
        [
            "sample",
            "cell_type",
            "cell_type_safe",
            "n_nuclei",
            "total_counts",
            "kept",
            "dropped_reason",
        ]
    ].copy()
    samples.index.name = "pseudobulk_sample"
    return samples, plan, out


def plan_pairs(plan: pd.DataFrame) -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]:
    """What a pseudobulk plan (:func:`pseudobulk_plan`) tests and why it skips the rest.

    Parameters
    ----------
    plan
        The plan table: ``cell_type_safe``, ``contrast``, ``status``, ``reason``.

    Returns
    -------
    tested
        ``(file-safe cell type, contrast)`` pairs with status ``tested``.
    skipped
        ``{(file-safe cell type, contrast): reason}`` of every other pair in the plan.
    """
    pairs = list(zip(plan["cell_type_safe"], plan["contrast"], strict=True))
    status = plan["status"].to_numpy()
    reasons = plan["reason"].fillna("").astype(str).replace("", "not tested").to_numpy()
    tested = {pair for pair, s in zip(pairs, status, strict=True) if s == "tested"}
    skipped = {pair: r for pair, s, r in zip(pairs, status, reasons, strict=True) if s != "tested"}
    return tested, skipped
