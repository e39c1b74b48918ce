"""One mouse of the single-nucleus demo: its droplets, with a nucleus and without.

A 10x run of a nuclei suspension puts some of the lysate (the "soup": free RNA of broken
nuclei and cytoplasm, most of it neuronal) into every droplet. The demo follows the model
of SoupX (Young & Behjati 2020, GigaScience 9:giaa151) and CellBender (Fleming et al.
2023, Nat Methods 20:1323; a fixed expected ambient count per droplet, its ``d_empty``):

- the soup of a mouse is the pooled expression of its own nuclei: each cell type's mean
  profile (with the mouse's random, activity and condition effects) weighted by the UMIs
  of its nuclei, neurons :data:`SOUP_NEURON_WEIGHT` times (their cytoplasm breaks up in the
  lysate), plus :data:`SOUP_MITO_FRACTION` mitochondrial RNA. A pain mouse's soup thus
  carries its neurons' pain genes;
- every droplet, with a nucleus or without, receives ``Poisson(A * e)`` ambient UMIs drawn
  from the soup, ``e`` the droplet's capture efficiency (log-normal around 1): a roughly
  fixed amount per droplet, so that small glial nuclei hold the largest ambient share;
- ``A`` is set so that ambient UMIs make up the planted contamination of the nuclei's UMIs;
  the realised contamination (ambient / all UMIs of the filtered matrix's droplets) and
  every nucleus' ambient UMIs are in the truth;
- empty droplets (``empties_per_nucleus`` per nucleus): most on the ambient plateau
  (``Poisson(A * e)``), the rest a tail of barcodes with a few UMIs, as on the barcode-rank
  curve of a raw Cell Ranger matrix;
- doublets are heterotypic: the own UMIs of two nuclei of different types, plus one
  droplet's ambient UMIs.

Counts are multinomial draws of each droplet's UMIs per component (either state of its
type(s), mitochondria, soup), ``chunk`` droplets at a time, so time and memory grow with
the number of UMIs, never with nuclei x genes. Separate random streams (all from the
study's seed and the sample's index) draw the nuclei, their ambient RNA, the empty
droplets, the activity shift and the barcodes, so that changing the contamination leaves
the nuclei's own counts as they were and a sample without empty droplets has the same
nuclei.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ._bulk import group_log2fc
from ._common import FEMALE_GENES, MALE_GENES
from ._sampling import Segments, alias_table, draw, random_barcodes
from ._snrna import DOUBLET_FRACTION, LOW_QUALITY_FRACTION, MEDIAN_UMIS, SnrnaStudy

#: Weight of a neuron's UMIs in the lysate relative to a glial nucleus' UMIs.
SOUP_NEURON_WEIGHT = 2.0
#: Share of mitochondrial RNA in the soup (cytoplasmic; nuclei themselves hold ~0.4%).
SOUP_MITO_FRACTION = 0.02
#: Log-normal SD of a droplet's capture efficiency (scales its ambient UMIs).
AMBIENT_SD = 0.2
#: Share of empty droplets on the ambient plateau; the rest hold a few UMIs.
EMPTY_PLATEAU = 0.8

#: Columns of the per-nucleus truth table.
NUCLEI_TRUTH_COLUMNS = (
    "barcode",
    "sample",
    "cell_type",
    "class",
    "doublet",
    "doublet_type_1",
    "doublet_type_2",
    "doublet_pair",
    "low_quality",
    "umis",
    "own_umis",
    "ambient_umis",
)


@dataclass
class SimulatedSample:
    """The droplets of one mouse.

    Attributes
    ----------
    nuclei
        The filtered matrix as AnnData: nuclei x genes, ``X`` CSR int32 counts (own plus
        ambient), ``obs`` indexed by barcode (sorted, as Cell Ranger writes them), ``var``
        by gene id with the symbol in ``gene``.
    truth
        Per nucleus, in the rows' order (:data:`NUCLEI_TRUTH_COLUMNS`).
    empties
        Empty droplets x genes, CSR int32: ambient RNA only.
    empty_barcodes
        Their barcodes, none shared with the nuclei.
    soup
        The lysate profile the ambient UMIs were drawn from (over genes; sums to 1).
    summary
        Planted per-sample values (one row of the sample truth table).
    """

    nuclei: object
    truth: pd.DataFrame
    empties: sparse.csr_matrix
    empty_barcodes: np.ndarray
    soup: np.ndarray
    summary: dict


def contamination_levels(n_samples: int, low: float, high: float, seed: int) -> np.ndarray:
    """Planted contamination of each sample: evenly spaced in [low, high], seeded order.

    Parameters
    ----------
    n_samples
        Samples of the sheet.
    low, high
        The range (fractions of a nucleus' UMIs).
    seed
        The study seed.

    Returns
    -------
    numpy.ndarray
        One level per sample, in sheet order.
    """
    levels = np.linspace(low, high, n_samples) if n_samples > 1 else np.array([low])
    return np.random.default_rng([seed, 29]).permutation(levels)


def simulate_droplets(
    study: SnrnaStudy,
    sample: str,
    covariates: Mapping[str, str],
    index: int,
    n_nuclei: int,
    contamination: float = 0.05,
    empties_per_nucleus: float = 3.0,
    umi_scale: float = 1.0,
    activity_sd: float = 0.0,
    chunk: int = 1000,
) -> SimulatedSample:
    """The droplets of one mouse: nuclei with ambient RNA, and empty droplets.

    Parameters
    ----------
    study
        Output of :func:`acc_tiam1.demo.build_study`.
    sample
        Sample id.
    covariates
        The sample's sheet row: ``condition``, ``sex`` and ``batch`` are used.
    index
        Position of the sample in the sheet (seeds its random streams).
    n_nuclei
        Target nuclei (varies +-10% between mice).
    contamination
        Planted share of ambient UMIs among all UMIs of the nuclei (0 for none).
    empties_per_nucleus
        Empty droplets per nucleus in the raw matrix.
    umi_scale
        Factor on every nucleus' UMIs (0.3: a shallow run).
    activity_sd
        SD (log2) of a shift of the activity module (every gene of its set) drawn per
        mouse and shared by all its cell types; 0 for none.
    chunk
        Droplets drawn at a time (bounds memory).

    Returns
    -------
    SimulatedSample
        Matrices, truth and planted values of the mouse.
    """
    import anndata as ad

    rng = np.random.default_rng([study.seed, 11, index])
    amb_rng = np.random.default_rng([study.seed, 19, index])
    shift = 0.0
    if activity_sd > 0:
        shift = float(np.random.default_rng([study.seed, 17, index]).normal(0.0, activity_sd))
    types = np.array(study.cell_types.index, dtype=object)
    klass = study.cell_types["class"].to_numpy()
    k = study.profiles.shape[0]
    condition = str(covariates["condition"])
    n_total = max(round(n_nuclei * rng.uniform(0.9, 1.1)), 20)

    tables, means, depth = _mouse_profiles(study, covariates, rng, shift)
    props = _composition(study, condition, rng)
    n_doublets = round(DOUBLET_FRACTION * n_total) if k > 1 else 0
    n_single = n_total - n_doublets
    cell_type = rng.choice(k, size=n_single, p=props)
    parents = _heterotypic_pairs(k, props, n_doublets, rng)
    med = np.array([MEDIAN_UMIS[c] for c in klass]) * depth * umi_scale

    umis = np.round(med[cell_type] * np.exp(rng.normal(0.0, 0.45, n_single))).astype(np.int64)
    n_low = min(round(LOW_QUALITY_FRACTION * n_total), n_single)
    low = np.zeros(n_single, dtype=bool)
    low[rng.choice(n_single, size=n_low, replace=False)] = True
    umis[low] = np.maximum(np.round(umis[low] * rng.uniform(0.08, 0.35, low.sum())), 50)
    mito_frac = np.exp(rng.normal(np.log(0.004), 0.5, n_single))
    mito_frac[low] = rng.uniform(0.05, 0.25, low.sum())
    parent_umis = np.round(med[parents] * np.exp(rng.normal(0.0, 0.45, parents.shape))).astype(
        np.int64
    )
    dbl_mito = np.exp(rng.normal(np.log(0.004), 0.5, parents.shape))

    # Droplets: singlets 0..n_single-1, then doublets. Own segments (droplet, profile,
    # UMIs); profiles: type t state A = t, state B = k + t, mitochondria = 2k, soup = 2k+1.
    seg = Segments(k)
    seg.add(np.arange(n_single), cell_type, umis, mito_frac, rng)
    dbl = np.arange(n_single, n_total)
    for j in range(2):
        seg.add(dbl, parents[:, j], parent_umis[:, j], dbl_mito[:, j], rng)
    own = np.concatenate([umis, parent_umis.sum(axis=1)])

    # The lysate: every nucleus' type profile weighted by its UMIs.
    weight = np.bincount(cell_type, weights=umis, minlength=k)
    weight += np.bincount(parents.ravel(), weights=parent_umis.ravel(), minlength=k)
    weight = weight * np.where(klass == "Non-neuronal", 1.0, SOUP_NEURON_WEIGHT)
    lysate = weight @ means
    soup = (1 - SOUP_MITO_FRACTION) * lysate / lysate.sum() + SOUP_MITO_FRACTION * study.mito
    level = contamination / (1.0 - contamination) * own.mean()
    ambient = amb_rng.poisson(level * _efficiency(n_total, amb_rng))
    empty_rng = np.random.default_rng([study.seed, 37, index])
    empty_umis = _empty_umis(round(empties_per_nucleus * n_total), level, empty_rng)

    bc_rng = np.random.default_rng([study.seed, 23, index])
    barcodes = random_barcodes(n_total, bc_rng)
    empty_barcodes = random_barcodes(empty_umis.size, bc_rng, taken=barcodes)
    position = np.empty(n_total, dtype=np.int64)
    position[np.argsort(barcodes)] = np.arange(n_total)
    tables.append(alias_table(soup))
    x = draw(
        [
            (position[seg.droplet()], seg.profile(), seg.umis(), rng),
            (position, np.full(n_total, 2 * k + 1), ambient, amb_rng),
        ],
        n_total,
        tables,
        chunk,
    )
    empties = draw(
        [(np.arange(empty_umis.size), np.zeros(empty_umis.size, int), empty_umis, empty_rng)],
        empty_umis.size,
        [tables[-1]],
        chunk,
    )

    truth = _nuclei_truth(
        sample, types, klass, cell_type, parents, parent_umis, low, own, ambient, position
    )
    truth.insert(0, "barcode", barcodes[np.argsort(barcodes)].astype(str))
    nuclei = ad.AnnData(
        X=x,
        obs=pd.DataFrame(index=pd.Index(truth["barcode"].to_numpy())),
        var=pd.DataFrame(
            {"gene": study.genes["gene"].to_numpy()}, index=pd.Index(study.genes.index.to_numpy())
        ),
    )
    clean = ~truth["doublet"] & ~truth["low_quality"]
    summary = {
        "sample": sample,
        "condition": condition,
        "nuclei": n_total,
        "doublets": n_doublets,
        "low_quality": n_low,
        "contamination": float(ambient.sum() / (own.sum() + ambient.sum())),
        "contamination_clean_singlets": float(
            truth.loc[clean, "ambient_umis"].sum() / truth.loc[clean, "umis"].sum()
        ),
        "contamination_planted": float(contamination),
        "ambient_umis_per_droplet": float(level),
        "own_umis": int(own.sum()),
        "ambient_umis": int(ambient.sum()),
        "empty_droplets": int(empty_umis.size),
        "empty_umis_median": float(np.median(empty_umis)) if empty_umis.size else 0.0,
        "umi_scale": float(umi_scale),
        "activity_shift_log2": shift,
        "null": bool(study.null),
    }
    return SimulatedSample(nuclei, truth, empties, empty_barcodes.astype(str), soup, summary)


def simulate_sample(
    study: SnrnaStudy,
    sample: str,
    covariates: Mapping[str, str],
    index: int,
    n_nuclei: int,
    **options,
):
    """The filtered matrix of one mouse and its per-nucleus truth.

    Parameters
    ----------
    study, sample, covariates, index, n_nuclei
        As for :func:`simulate_droplets`.
    **options
        Further options of :func:`simulate_droplets`.

    Returns
    -------
    adata
        AnnData, ``X`` CSR int32 raw counts, obs barcodes, var gene ids with ``gene``.
    truth
        Per nucleus (:data:`NUCLEI_TRUTH_COLUMNS`).
    """
    out = simulate_droplets(study, sample, covariates, index, n_nuclei, **options)
    return out.nuclei, out.truth


# --------------------------------------------------------------------------------------


def _mouse_profiles(study: SnrnaStudy, covariates: Mapping[str, str], rng, shift: float):
    """Sampling tables of both states of every type and of mitochondria, type means, depth."""
    types = list(study.cell_types.index)
    k, g = study.profiles.shape
    condition = str(covariates["condition"])
    batch = str(covariates.get("batch", "b1"))
    female = str(covariates.get("sex", "F")).upper().startswith("F")
    # Mouse- and batch-level effects (log2), planted effects of the mouse's group.
    batch_rng = np.random.default_rng([study.seed, 13, zlib.crc32(batch.encode())])
    batch_shift = batch_rng.normal(0.0, 0.1, g)
    depth = np.exp(batch_rng.normal(0.0, 0.1) + rng.normal(0.0, 0.1))
    sd_gene = 0.15 * np.exp(rng.normal(0.0, 0.3, g))
    mouse = rng.normal(0.0, 1.0, g) * sd_gene + shift * study.activity
    sym = study.genes["gene"].to_numpy()
    sex = np.zeros(g)
    sex[np.isin(sym, FEMALE_GENES)] = 0.0 if female else -9.0
    sex[np.isin(sym, MALE_GENES)] = -9.0 if female else 0.0
    states_a, states_b = [], []
    means = np.empty((k, g))
    for t, ct in enumerate(types):
        eff = group_log2fc(study.effects[ct], condition)
        lp = study.profiles[t] + mouse + rng.normal(0.0, 0.1, g) + batch_shift + sex + eff
        pair = []
        for sign, store in ((-0.5, states_a), (0.5, states_b)):
            p = np.exp2(lp + sign * study.states[t])
            p[~np.isfinite(p)] = 0.0
            p /= p.sum()
            store.append(alias_table(p))
            pair.append(p)
        means[t] = 0.5 * (pair[0] + pair[1])  # E[w] = 1/2 for w ~ Beta(2, 2)
    return [*states_a, *states_b, alias_table(study.mito)], means, depth


def _composition(study: SnrnaStudy, condition: str, rng) -> np.ndarray:
    """Cell-type proportions of one mouse (group effect, then Dirichlet scatter)."""
    props = study.cell_types["proportion"].to_numpy().copy()
    if condition in ("sham", "pain", "pain_ketamine", "sham_ketamine"):
        comp = study.cell_types["composition_pain_log2"]
        effects = pd.DataFrame(
            {"pain_log2fc": comp, "rescue_log2fc": -comp, "ketamine_log2fc": 0.0}
        )
        props = props * np.exp2(group_log2fc(effects, condition))
    return rng.dirichlet(400 * props / props.sum())


def _heterotypic_pairs(k: int, props: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` x 2 type indices of doublets, the two always different types."""
    pairs = rng.choice(k, size=(n, 2), p=props)
    same = pairs[:, 0] == pairs[:, 1]
    while same.any():  # the second type, redrawn: props renormalised without the first
        pairs[same, 1] = rng.choice(k, size=int(same.sum()), p=props)
        same = pairs[:, 0] == pairs[:, 1]
    return pairs


def _efficiency(n: int, rng) -> np.ndarray:
    return np.exp(rng.normal(-(AMBIENT_SD**2) / 2, AMBIENT_SD, n))


def _empty_umis(n: int, level: float, rng) -> np.ndarray:
    """UMIs of the empty droplets: the ambient plateau, then a tail of a few UMIs."""
    n_plateau = round(EMPTY_PLATEAU * n)
    plateau = rng.poisson(level * _efficiency(n_plateau, rng))
    tail = np.floor(np.exp(rng.uniform(0.0, np.log(max(level / 3.0, 2.0)), n - n_plateau)))
    return np.maximum(np.concatenate([plateau, tail]), 1).astype(np.int64)


def _pair_class(a: str, b: str) -> str:
    pair = {a, b}
    if "Non-neuronal" in pair and pair != {"Non-neuronal"}:
        return "neuron-glia"
    if pair == {"Glutamatergic", "GABAergic"}:
        return "glut-gaba"
    return {"Glutamatergic": "glut-glut", "GABAergic": "gaba-gaba"}.get(a, "glia-glia")


def _nuclei_truth(
    sample, types, klass, cell_type, parents, parent_umis, low, own, ambient, position
) -> pd.DataFrame:
    """Per-nucleus truth in row (sorted barcode) order; the larger doublet parent first."""
    n_single = cell_type.size
    n_total = own.size
    big_first = parent_umis[:, 0] >= parent_umis[:, 1]
    p1 = np.where(big_first, parents[:, 0], parents[:, 1])
    p2 = np.where(big_first, parents[:, 1], parents[:, 0])
    cls = {str(t): str(c) for t, c in zip(types, klass, strict=True)}
    t1, t2 = types[p1], types[p2]
    cell = np.concatenate([types[cell_type], np.full(p1.size, "doublet", dtype=object)])
    table = pd.DataFrame(
        {
            "sample": sample,
            "cell_type": cell,
            "class": np.concatenate([klass[cell_type], np.full(p1.size, "doublet", object)]),
            "doublet": np.arange(n_total) >= n_single,
            "doublet_type_1": np.concatenate([np.full(n_single, "", object), t1]),
            "doublet_type_2": np.concatenate([np.full(n_single, "", object), t2]),
            "doublet_pair": np.concatenate(
                [
                    np.full(n_single, "", object),
                    [_pair_class(cls[a], cls[b]) for a, b in zip(t1, t2, strict=True)],
                ]
            ),
            "low_quality": np.concatenate([low, np.zeros(p1.size, dtype=bool)]),
            "umis": own + ambient,
            "own_umis": own,
            "ambient_umis": ambient,
        }
    )
    order = np.empty(n_total, dtype=np.int64)
    order[position] = np.arange(n_total)
    return table.iloc[order].reset_index(drop=True)


def soup_table(study: SnrnaStudy, soups: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The planted soup profiles: one row per gene, per sample its share per million.

    Parameters
    ----------
    study
        The study the samples belong to.
    soups
        ``{sample: SimulatedSample.soup}``.

    Returns
    -------
    pandas.DataFrame
        Columns ``gene_id``, ``gene``, then one per sample: the expected ambient UMIs of the
        gene per million ambient UMIs (3 decimals).
    """
    table = pd.DataFrame({"gene_id": study.genes.index, "gene": study.genes["gene"].to_numpy()})
    for sample, soup in soups.items():
        table[sample] = np.round(np.asarray(soup) * 1e6, 3)
    return table
