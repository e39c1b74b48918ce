"""The single-nucleus part of the demo study: simulated 10x nuclei of mouse ACC.

Same design as the bulk demo (sham, pain, pain_ketamine, sham_ketamine; the sample sheet
says which mouse is in which group), about 20 cortical subclasses in ACC-punch
proportions (many oligodendrocytes), mouse-level random effects, low-quality nuclei
(few UMIs, much mitochondrial RNA) and heterotypic doublets.

Expression model, per sample (mouse)
------------------------------------
Each cell type has a log2 expression profile: a gene baseline plus class-level
(glutamatergic, GABAergic, non-neuronal) and type-level deviations, its markers high and
other types' markers near zero. A mouse adds a random effect per gene and per gene x
cell type, its batch a small shift, its sex Xist or Y-chromosome genes, its group the
planted effects. A nucleus draws its UMIs from a mixture of two states of its type
(continuous within-type variation) plus a mitochondrial component; a doublet draws from
two types. Counts are the multinomial draw of the nucleus' UMIs, so simulation time
grows with the number of UMIs, not with nuclei x genes.

Planted effects (log2 fold changes, written to the truth tables)
----------------------------------------------------------------
- L2/3 IT and L5 ET: pain raises most Tiam1/Rac1 pathway genes (modules A-D, Tiam1 and
  Rac1 always) and the activity module E, plus random filler genes up or down;
  ketamine in pain mice reverses most of it (full, half or no rescue per gene, as in
  the bulk demo; Tiam1 and Rac1 always fully). L2/3 IT also gets ketamine-only genes.
- Microglia: pain changes a separate set of filler genes, and raises the microglial
  proportion (rescued by ketamine).
- Sst: ketamine-only genes (in sham and pain mice alike).
- Every other type, in particular Oligo and Astro, is NULL: nothing planted.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ._bulk import RESCUE_PLAN, group_log2fc
from ._common import ACTIVITY_MODULE, CORE_MODULES, FEMALE_GENES, MALE_GENES, demo_gene_universe

#: Expected share of nuclei in an ACC punch that includes some white matter.
PROPORTIONS = {
    "L2/3 IT": 0.12,
    "L4/5 IT": 0.015,
    "L5 IT": 0.055,
    "L5 ET": 0.03,
    "L5/6 NP": 0.02,
    "L6 IT": 0.045,
    "L6 IT Car3": 0.015,
    "L6 CT": 0.07,
    "L6b": 0.015,
    "Pvalb": 0.03,
    "Sst": 0.03,
    "Vip": 0.02,
    "Lamp5": 0.02,
    "Sncg": 0.012,
    "Astro": 0.09,
    "Oligo": 0.26,
    "OPC": 0.04,
    "Microglia": 0.05,
    "Endo": 0.025,
    "Peri": 0.012,
    "VLMC": 0.012,
}


#: Median UMIs per nucleus by class.
MEDIAN_UMIS = {"Glutamatergic": 5000.0, "GABAergic": 4000.0, "Non-neuronal": 2000.0}


#: Genes shared by a class (on top of the marker table).
CLASS_GENES = {
    "Glutamatergic": ("Slc17a7", "Satb2", "Neurod6", "Camk2a"),
    "GABAergic": ("Gad1", "Gad2", "Slc32a1"),
    "neuron": ("Snap25", "Syt1", "Meis2", "Pbx3"),
    "mge": ("Lhx6",),
}


PATHWAY_TYPES = ("L2/3 IT", "L5 ET")


FILLER_PAIN_TYPES = ("Microglia",)


KETAMINE_TYPES = ("Sst", "L2/3 IT")


NULL_TYPES = ("Oligo", "Astro")


#: log2 change of a type's share of nuclei in pain (rescued by ketamine).
COMPOSITION_PAIN = {"Microglia": 0.8}


DOUBLET_FRACTION = 0.06


#: Filler genes expressed at cortical levels; further fillers are barely detected.
EXPRESSED_FILLERS = 6000


LOW_QUALITY_FRACTION = 0.06


@dataclass
class SnrnaStudy:
    """Everything shared by the samples of one simulated study."""

    genes: pd.DataFrame  # index gene_id; gene, module
    cell_types: pd.DataFrame  # index cell_type; class, proportion, role, composition_pain_log2
    profiles: np.ndarray  # cell types x genes, log2 relative expression (mito excluded)
    states: np.ndarray  # cell types x genes, log2 within-type state direction
    effects: dict[str, pd.DataFrame]  # cell type -> per-gene planted effects
    mito: np.ndarray  # relative expression of mitochondrial genes (all genes, 0 elsewhere)
    seed: int


def build_study(
    markers: pd.DataFrame,
    modules: Mapping[str, Sequence[str]],
    n_genes: int = 8000,
    seed: int = 1,
    cell_types: Sequence[str] | None = None,
) -> SnrnaStudy:
    """Gene universe, cell-type profiles and planted effects of a study.

    Parameters
    ----------
    markers
        Marker table (:func:`acc_tiam1.io.read_markers`); its cell types are simulated.
    modules
        Pathway modules (name -> genes) whose genes get real symbols.
    n_genes
        Genes in the matrices.
    seed
        Seed; equal seeds give identical studies.
    cell_types
        Subset of the marker table's types to simulate (None: all).
    """
    rng = np.random.default_rng([seed, 7])
    markers = markers.copy()
    markers.columns = ["cell_type", "cls", "markers"]
    if cell_types is not None:
        unknown = sorted(set(cell_types) - set(markers["cell_type"]))
        if unknown:
            raise ValueError(f"demo cell types not in the marker table: {unknown}")
        markers = markers[markers["cell_type"].isin(cell_types)].reset_index(drop=True)
    all_markers = [g for gs in markers["markers"] for g in gs]
    extra = [g for gs in CLASS_GENES.values() for g in gs]
    genes = demo_gene_universe(modules, [*all_markers, *extra], n_genes)
    sym = genes["gene"].to_numpy()
    module = genes["module"].to_numpy()
    col = {g: i for i, g in enumerate(sym)}
    types = list(markers["cell_type"])
    cls = {
        r.cell_type: (r.cls if r.cls in MEDIAN_UMIS else "Non-neuronal")
        for r in markers.itertuples()
    }
    n, k = len(genes), len(types)

    base = rng.normal(0.0, 1.6, n)
    real = module != "filler"
    base[real] = rng.normal(2.0, 0.8, real.sum())
    base[module == "housekeeping"] = rng.normal(2.5, 0.5, (module == "housekeeping").sum())
    # As in a real reference, only some thousand genes are expressed in cortex; the rest
    # (beyond EXPRESSED_FILLERS) are barely detected, so adding genes adds few UMIs.
    filler = rng.permutation(np.flatnonzero(module == "filler"))
    base[filler[EXPRESSED_FILLERS:]] = rng.normal(
        -5.0, 1.5, max(filler.size - EXPRESSED_FILLERS, 0)
    )
    filler = np.sort(filler[:EXPRESSED_FILLERS])
    class_dev = {}
    for c in MEDIAN_UMIS:
        dev = np.zeros(n)
        hit = rng.choice(filler, size=int(0.25 * filler.size), replace=False)
        dev[hit] = rng.normal(0.0, 1.2, hit.size)
        class_dev[c] = dev
    neuron_dev = np.zeros(n)
    hit = rng.choice(filler, size=int(0.15 * filler.size), replace=False)
    neuron_dev[hit] = rng.normal(0.0, 0.8, hit.size)

    profiles = np.empty((k, n))
    states = np.zeros((k, n))
    marker_idx = np.array(sorted({col[g] for g in all_markers}), dtype=int)
    for t, ct in enumerate(types):
        c = cls[ct]
        p = base + class_dev[c]
        sub = np.zeros(n)
        share = 0.2 if c == "Non-neuronal" else 0.08
        scale = 1.5 if c == "Non-neuronal" else 0.9
        hit = rng.choice(filler, size=int(share * filler.size), replace=False)
        sub[hit] = rng.normal(0.0, scale, hit.size)
        p = p + sub
        if c != "Non-neuronal":
            p = p + neuron_dev
            pathway = np.isin(module, [*CORE_MODULES, ACTIVITY_MODULE])
            p[pathway] += 1.0
        p[marker_idx] = rng.normal(-3.5, 0.5, marker_idx.size)
        for g in markers.loc[t, "markers"]:
            p[col[g]] = rng.normal(3.2, 0.4)
        for group, gs in CLASS_GENES.items():
            on = (
                (group == c)
                or (group == "neuron" and c != "Non-neuronal")
                or (group == "mge" and ct in ("Pvalb", "Sst"))
            )
            for g in gs:
                p[col[g]] = rng.normal(2.8, 0.3) if on else rng.normal(-3.5, 0.5)
        st = np.zeros(n)
        hit = rng.choice(filler, size=int(0.05 * filler.size), replace=False)
        st[hit] = rng.normal(0.0, 1.0, hit.size)
        states[t] = st
        profiles[t] = p
    for g in FEMALE_GENES + MALE_GENES:
        profiles[:, col[g]] = 3.0 if g == "Xist" else 1.0
    mito = np.zeros(n)
    is_mito = module == "mitochondrial"
    mito[is_mito] = 2 ** rng.normal(0.0, 0.6, is_mito.sum())
    mito /= mito.sum()
    profiles[:, is_mito] = -np.inf

    effects = {ct: _plant(ct, genes, profiles[t], rng) for t, ct in enumerate(types)}
    roles = []
    for ct in types:
        r = []
        if ct in PATHWAY_TYPES:
            r.append("pain: Tiam1/Rac1 pathway + activity + fillers; ketamine rescue")
        if ct in FILLER_PAIN_TYPES:
            r.append("pain: filler genes; ketamine rescue")
        if ct in KETAMINE_TYPES:
            r.append("ketamine-only genes")
        roles.append("; ".join(r) if r else "null (nothing planted)")
    props = np.array([PROPORTIONS.get(ct, 0.01) for ct in types])
    table = pd.DataFrame(
        {
            "class": [cls[ct] for ct in types],
            "proportion": props / props.sum(),
            "de_planted": [
                bool((effects[ct][["pain_log2fc", "ketamine_log2fc"]] != 0).any().any())
                for ct in types
            ],
            "role": roles,
            "composition_pain_log2": [COMPOSITION_PAIN.get(ct, 0.0) for ct in types],
        },
        index=pd.Index(types, name="cell_type"),
    )
    return SnrnaStudy(genes, table, profiles, states, effects, mito, seed)


def _plant(
    cell_type: str, genes: pd.DataFrame, profile: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(genes)
    module = genes["module"].to_numpy()
    sym = genes["gene"].to_numpy()
    pain = np.zeros(n)
    ketamine = np.zeros(n)
    finite = np.isfinite(profile)
    expressed = (module == "filler") & finite & (profile > np.quantile(profile[finite], 0.75))
    if cell_type in PATHWAY_TYPES:
        core = np.isin(module, CORE_MODULES)
        hit = core & (rng.random(n) < 0.7)
        hit |= np.isin(sym, ["Tiam1", "Rac1"])
        pain[hit] = rng.uniform(0.8, 1.4, hit.sum())
        act = module == ACTIVITY_MODULE
        pain[act] = rng.uniform(1.0, 1.8, act.sum())
        pick = rng.choice(np.flatnonzero(expressed), size=20, replace=False)
        pain[pick] = rng.uniform(0.8, 1.6, pick.size) * rng.choice([-1, 1], pick.size)
    if cell_type in FILLER_PAIN_TYPES:
        pick = rng.choice(np.flatnonzero(expressed), size=25, replace=False)
        pain[pick] = rng.uniform(0.8, 1.6, pick.size) * rng.choice([-1, 1], pick.size)
    if cell_type in KETAMINE_TYPES:
        pick = rng.choice(np.flatnonzero(expressed & (pain == 0)), size=20, replace=False)
        ketamine[pick] = rng.uniform(0.8, 1.5, pick.size) * rng.choice([-1, 1], pick.size)
    planted = pain != 0
    names = list(RESCUE_PLAN)
    classes = np.array(["none"] * n, dtype=object)
    classes[planted] = rng.choice(names, size=planted.sum(), p=[RESCUE_PLAN[c][0] for c in names])
    # The story of the demo: ketamine restores Tiam1 and Rac1 where pain raised them.
    classes[planted & np.isin(sym, ["Tiam1", "Rac1"])] = "rescued"
    fraction = np.array([RESCUE_PLAN[c][1] if c in RESCUE_PLAN else 0.0 for c in classes])
    classes[ketamine != 0] = "ketamine_only"
    out = genes.copy()
    out["pain_log2fc"] = pain
    out["rescue_log2fc"] = -fraction * pain
    out["ketamine_log2fc"] = ketamine
    out["rescue_class"] = classes
    out["planted_pain"] = planted
    return out


def truth_genes(study: SnrnaStudy) -> pd.DataFrame:
    """Planted effects, one row per cell type x gene with any effect."""
    rows = []
    for ct, eff in study.effects.items():
        hit = eff[(eff["pain_log2fc"] != 0) | (eff["ketamine_log2fc"] != 0)]
        if len(hit):
            rows.append(hit.reset_index().assign(cell_type=ct))
    cols = [
        "cell_type",
        "gene_id",
        "gene",
        "module",
        "pain_log2fc",
        "rescue_log2fc",
        "ketamine_log2fc",
        "rescue_class",
        "planted_pain",
    ]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


def _barcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("ACGT"))
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        codes = letters[rng.integers(0, 4, size=(n, 16))]
        for row in codes:
            bc = "".join(row) + "-1"
            if bc not in seen:
                seen.add(bc)
                out.append(bc)
                if len(out) == n:
                    break
    return np.array(out)


def simulate_sample(
    study: SnrnaStudy,
    sample: str,
    covariates: Mapping[str, str],
    index: int,
    n_nuclei: int,
    chunk: int = 2000,
):
    """Counts of one mouse.

    Parameters
    ----------
    study
        Output of :func:`build_study`.
    sample
        Sample id.
    covariates
        The sample's sheet row: ``condition``, ``sex`` and ``batch`` are used.
    index
        Position of the sample in the sheet (seeds its random stream).
    n_nuclei
        Target nuclei (varies +-10% between mice).
    chunk
        Nuclei simulated at a time (bounds memory).

    Returns
    -------
    adata
        AnnData, ``X`` CSR int32 raw counts, obs barcodes, var gene ids with ``gene``.
    truth
        Per nucleus: barcode, sample, cell_type (``doublet`` for doublets), doublet,
        low_quality, parent types, UMIs drawn.
    """
    import anndata as ad

    rng = np.random.default_rng([study.seed, 11, index])
    types = list(study.cell_types.index)
    k, g = study.profiles.shape
    condition = str(covariates["condition"])
    batch = str(covariates.get("batch", "b1"))
    female = str(covariates.get("sex", "F")).upper().startswith("F")
    n_total = max(round(n_nuclei * rng.uniform(0.9, 1.1)), 20)

    # Mouse- and batch-level effects (log2), planted effects of the mouse's group.
    batch_rng = np.random.default_rng([study.seed, 13, zlib.crc32(batch.encode())])
    batch_shift = batch_rng.normal(0.0, 0.1, g)
    depth = np.exp(batch_rng.normal(0.0, 0.1) + rng.normal(0.0, 0.1))
    sd_gene = 0.15 * np.exp(rng.normal(0.0, 0.3, g))
    mouse = rng.normal(0.0, 1.0, g) * sd_gene
    sym = study.genes["gene"].to_numpy()
    sex = np.zeros(g)
    sex[np.isin(sym, FEMALE_GENES)] = 0.0 if female else -9.0
    sex[np.isin(sym, MALE_GENES)] = -9.0 if female else 0.0
    profiles_a, profiles_b = [], []
    for t, ct in enumerate(types):
        eff = group_log2fc(study.effects[ct], condition)
        lp = study.profiles[t] + mouse + rng.normal(0.0, 0.1, g) + batch_shift + sex + eff
        for sign, store in ((-0.5, profiles_a), (0.5, profiles_b)):
            p = np.exp2(lp + sign * study.states[t])
            p[~np.isfinite(p)] = 0.0
            store.append(np.cumsum(p / p.sum()))
    cums = [*profiles_a, *profiles_b, np.cumsum(study.mito)]

    # Composition of this mouse.
    props = study.cell_types["proportion"].to_numpy().copy()
    pain_part = (
        group_log2fc(
            pd.DataFrame(
                {
                    "pain_log2fc": study.cell_types["composition_pain_log2"],
                    "rescue_log2fc": -study.cell_types["composition_pain_log2"],
                    "ketamine_log2fc": 0.0,
                }
            ),
            condition,
        )
        if condition in ("sham", "pain", "pain_ketamine", "sham_ketamine")
        else np.zeros(k)
    )
    props = props * np.exp2(pain_part)
    props = rng.dirichlet(400 * props / props.sum())

    n_doublets = round(DOUBLET_FRACTION * n_total)
    n_low = round(LOW_QUALITY_FRACTION * n_total)
    n_single = n_total - n_doublets
    cell_type = rng.choice(k, size=n_single, p=props)
    parents = rng.choice(k, size=(n_doublets, 2), p=props)
    klass = study.cell_types["class"].to_numpy()
    med = np.array([MEDIAN_UMIS[c] for c in klass]) * depth

    umis = np.round(med[cell_type] * np.exp(rng.normal(0.0, 0.45, n_single))).astype(int)
    low = np.zeros(n_single, dtype=bool)
    low[rng.choice(n_single, size=min(n_low, n_single), replace=False)] = True
    umis[low] = np.maximum(np.round(umis[low] * rng.uniform(0.08, 0.35, low.sum())), 50)
    mito_frac = np.exp(rng.normal(np.log(0.004), 0.5, n_single))
    mito_frac[low] = rng.uniform(0.05, 0.25, low.sum())

    # Segments: (nucleus, profile, UMIs). Profiles: type t state A = t, state B = k + t,
    # mitochondria = 2k.
    seg_cell, seg_prof, seg_n = [], [], []

    def add(cells, typ, n_umi, mfrac):
        n_mito = rng.binomial(n_umi, mfrac)
        rest = n_umi - n_mito
        w = rng.beta(2.0, 2.0, len(cells))
        n_a = rng.binomial(rest, w)
        seg_cell.extend([cells, cells, cells])
        seg_prof.extend([typ, k + typ, np.full(len(cells), 2 * k)])
        seg_n.extend([n_a, rest - n_a, n_mito])

    singles = np.arange(n_single)
    add(singles, cell_type, umis, mito_frac)
    dbl = np.arange(n_single, n_total)
    for j in range(2):
        typ = parents[:, j]
        u = np.round(med[typ] * np.exp(rng.normal(0.0, 0.45, n_doublets))).astype(int)
        add(dbl, typ, u, np.exp(rng.normal(np.log(0.004), 0.5, n_doublets)))
    seg_cell = np.concatenate(seg_cell)
    seg_prof = np.concatenate(seg_prof)
    seg_n = np.concatenate(seg_n).astype(np.int64)

    order = rng.permutation(n_total)  # barcode order independent of type
    position = np.empty(n_total, dtype=np.int64)
    position[order] = np.arange(n_total)
    seg_pos = position[seg_cell]
    blocks = []
    for start in range(0, n_total, chunk):
        in_chunk = (seg_pos >= start) & (seg_pos < start + chunk)
        rows, cols = [], []
        for prof in np.unique(seg_prof[in_chunk]):
            sel = in_chunk & (seg_prof == prof)
            n_per = seg_n[sel]
            total = int(n_per.sum())
            if total == 0:
                continue
            u = rng.random(total)
            genes_drawn = np.searchsorted(cums[prof], u * cums[prof][-1], side="right")
            np.minimum(genes_drawn, g - 1, out=genes_drawn)
            rows.append(np.repeat(seg_pos[sel] - start, n_per).astype(np.int32))
            cols.append(genes_drawn.astype(np.int32))
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        m = min(chunk, n_total - start)
        block = sparse.coo_matrix((np.ones(r.size, dtype=np.int32), (r, c)), shape=(m, g))
        blocks.append(block.tocsr())
    x = sparse.vstack(blocks, format="csr").astype(np.int32)
    x.sort_indices()

    barcodes = _barcodes(n_total, rng)
    true_type = np.empty(n_total, dtype=object)
    true_type[position[singles]] = np.array(types, dtype=object)[cell_type]
    true_type[position[dbl]] = "doublet"
    parent = np.full((n_total, 2), "", dtype=object)
    parent[position[singles], 0] = np.array(types, dtype=object)[cell_type]
    parent[position[dbl], 0] = np.array(types, dtype=object)[parents[:, 0]]
    parent[position[dbl], 1] = np.array(types, dtype=object)[parents[:, 1]]
    is_low = np.zeros(n_total, dtype=bool)
    is_low[position[singles]] = low
    truth = pd.DataFrame(
        {
            "barcode": barcodes,
            "sample": sample,
            "cell_type": true_type,
            "doublet": true_type == "doublet",
            "low_quality": is_low,
            "parent_1": parent[:, 0],
            "parent_2": parent[:, 1],
            "umis": np.asarray(x.sum(axis=1)).ravel(),
        }
    )
    adata = ad.AnnData(
        X=x,
        obs=pd.DataFrame(index=pd.Index(barcodes)),
        var=pd.DataFrame(
            {"gene": study.genes["gene"].to_numpy()}, index=pd.Index(study.genes.index.to_numpy())
        ),
    )
    return adata, truth
