"""The single-nucleus part of the demo study: cell types, their profiles, planted effects.

Same design as the bulk demo (sham, pain, pain_ketamine, sham_ketamine; the sample sheet
says which mouse is in which group), about 20 cortical subclasses in ACC-punch
proportions (many oligodendrocytes). This module builds what all mice share
(:func:`build_study`); :mod:`acc_tiam1.demo._nuclei` simulates one mouse's droplets:
nuclei with mouse-level random effects, low-quality nuclei, heterotypic doublets, ambient
RNA from the mouse's own lysate and empty droplets.

Expression model
----------------
Each cell type has a log2 expression profile: a gene baseline plus class-level
(glutamatergic, GABAergic, non-neuronal) and type-level deviations. Its own markers and
its class genes (:data:`CLASS_GENES`) are high; other types' markers and other classes'
class genes are not expressed at all (real oligodendrocytes make no Cux2 or Snap25
mRNA, so every such count in a droplet comes from the ambient RNA, the basis of SoupX's
contamination estimate). Neuronal activity genes (:data:`NEURONAL_ACTIVITY_GENES`) are
low in glia. Within a type, nuclei vary continuously between two states.

Planted effects (log2 fold changes, written to the truth tables)
----------------------------------------------------------------
- L2/3 IT and L5 ET: pain raises most Tiam1/Rac1 pathway genes (modules A-D, Tiam1 and
  Rac1 always) and the activity module E, plus random filler genes up or down;
  ketamine in pain mice reverses most of it (full, half or no rescue per gene, as in
  the bulk demo; Tiam1 and Rac1 always fully). L2/3 IT also gets ketamine-only genes.
- Microglia: pain changes a separate set of filler genes, and raises the microglial
  proportion (rescued by ketamine).
- Sst: ketamine-only genes (in sham and pain mice alike).
- Every other type, in particular Oligo and Astro, is NULL: nothing planted. The
  ambient RNA of a pain mouse nevertheless carries its neurons' pain genes into every
  droplet, glial ones included.

``build_study(null=True)`` draws the same study and then removes every condition effect
(expression and composition): the null variant, in which every call is a false positive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._bulk import RESCUE_PLAN
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


#: Activity-regulated genes of the activity module that neurons make and glia hardly do
#: (immediate-early and synaptic activity genes): 8x lower in glia than the rest of the
#: module, so that in glial nuclei much of what is counted of them is ambient RNA.
NEURONAL_ACTIVITY_GENES = (
    "Arc",
    "Bdnf",
    "Egr1",
    "Fos",
    "Fosb",
    "Homer1",
    "Junb",
    "Npas4",
    "Nr4a1",
    "Vgf",
)
GLIAL_ACTIVITY_LOG2 = -3.0


#: Marker-table classes of neurons (they express the ``neuron`` genes of CLASS_GENES).
NEURONAL_CLASSES = ("Glutamatergic", "GABAergic")


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
    activity: np.ndarray  # bool over genes: in the activity module (every gene of its set)
    seed: int
    null: bool = False


def build_study(
    markers: pd.DataFrame,
    modules: Mapping[str, Sequence[str]],
    n_genes: int = 8000,
    seed: int = 1,
    cell_types: Sequence[str] | None = None,
    null: bool = False,
    marker_log2: float = 3.2,
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
    null
        Remove every planted condition effect (expression and composition) after
        drawing them, so that the rest of the study is the same as without.
    marker_log2
        Mean log2 expression of a type's markers (genes' baseline: about 2; the type's
        other genes vary around it). Lower values make markers weaker, as many markers of
        real tables are.

    Returns
    -------
    SnrnaStudy
        What every mouse of the study shares.
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
        # Type programme: a fifth of the fillers. Strong enough that types separate into
        # clusters without their markers (as in real data, where hundreds of genes tell
        # neuronal subtypes apart), so weak markers (marker_log2) test annotation alone.
        sub = np.zeros(n)
        scale = 1.5 if c == "Non-neuronal" else 1.2
        hit = rng.choice(filler, size=int(0.2 * filler.size), replace=False)
        sub[hit] = rng.normal(0.0, scale, hit.size)
        p = p + sub
        if c != "Non-neuronal":
            p = p + neuron_dev
            pathway = np.isin(module, [*CORE_MODULES, ACTIVITY_MODULE])
            p[pathway] += 1.0
        else:
            p[np.isin(sym, NEURONAL_ACTIVITY_GENES)] += GLIAL_ACTIVITY_LOG2
        # Other types' markers and other classes' genes: not expressed (exp2(-inf) = 0).
        p[marker_idx] = -np.inf
        for g in markers.loc[t, "markers"]:
            p[col[g]] = rng.normal(marker_log2, 0.4)
        for group, gs in CLASS_GENES.items():
            on = (
                (group == c)
                or (group == "neuron" and c in NEURONAL_CLASSES)
                or (group == "mge" and ct in ("Pvalb", "Sst"))
            )
            for g in gs:
                p[col[g]] = rng.normal(2.8, 0.3) if on else -np.inf
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
    if null:
        effects = {ct: _without_effects(eff) for ct, eff in effects.items()}
    roles = []
    for ct in types:
        r = []
        if null:
            roles.append("null variant (nothing planted)")
            continue
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
            "composition_pain_log2": [
                0.0 if null else COMPOSITION_PAIN.get(ct, 0.0) for ct in types
            ],
        },
        index=pd.Index(types, name="cell_type"),
    )
    activity = np.isin(sym, list(modules.get(ACTIVITY_MODULE, ())))
    return SnrnaStudy(genes, table, profiles, states, effects, mito, activity, seed, null)


def _without_effects(effects: pd.DataFrame) -> pd.DataFrame:
    out = effects.copy()
    out[["pain_log2fc", "rescue_log2fc", "ketamine_log2fc"]] = 0.0
    out["rescue_class"] = "none"
    out["planted_pain"] = False
    return out


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
