# Helpers of the enrichment and rescue rules (enrichment.smk, rescue.smk).
# Gene-set enrichment of every DE table (bulk, and snRNA pseudobulk per cell type).
# Datasets are "bulk" or "snrna/<cell type>"; the tables come from enrichment_inputs()
# in common.smk. Which snRNA cell types and contrasts are tested is only known after
# checkpoint snrna_pseudobulk, so the tested tables are read through input functions; the
# snRNA GSEA job writes a table for every cell type of the marker table and contrast
# (untested ones say so), which keeps it one job with outputs known at parse time.


def dataset_id(branch, cell_type):
    """'bulk' for bulk tables, '<branch>/<cell type>' for per-cell-type tables."""
    return branch if cell_type is None else f"{branch}/{cell_type}"


def dataset_title(dataset):
    """Report name of a dataset: 'bulk' or 'snRNA <cell type label>'."""
    if dataset == "bulk":
        return "bulk"
    return f"snRNA {snrna_label(dataset.split('/', 1)[1])}"


def dataset_titles():
    """{dataset id: report name} of every possible dataset (static, for plot labels)."""
    titles = {"bulk": "bulk"}
    for safe in SNRNA_SAFE_TYPES if SNRNA else []:
        titles[f"snrna/{safe}"] = dataset_title(f"snrna/{safe}")
    return titles


def enrichment_pairs(branch=None):
    """(dataset, contrast) of every tested DE table, optionally of one branch only.

    Reads checkpoint snrna_pseudobulk when the snRNA branch is on: call it only from
    input functions.
    """
    return [(dataset_id(b, ct), c) for b, ct, c in enrichment_inputs(branch)]


def snrna_gsea_outputs():
    """(dataset, contrast) of every snRNA GSEA table: each cell type of the marker table
    and contrast, known at parse time (those not tested get a table that says so)."""
    if SNRNA is None:
        return []
    return [(f"snrna/{safe}", c) for safe in SNRNA_SAFE_TYPES for c in CONTRAST_NAMES]


def enrichment_datasets():
    """Dataset ids in report order: bulk first, then cell types (input functions only)."""
    return list(dict.fromkeys(ds for ds, _ in enrichment_pairs()))


def de_table(dataset, contrast):
    """Path of the DE table of one dataset and contrast (input functions only)."""
    if dataset == "bulk":
        tables = rules.bulk_de.output.tables
    else:
        cell_type = dataset.split("/", 1)[1]
        tables = snrna_de_paths(cell_type)["tables"]
    return tables[CONTRAST_NAMES.index(contrast)]


def gsea_table(dataset, contrast):
    return f"results/enrichment/{dataset}/{contrast}.tsv"


def de_model(dataset, kind):
    """The DE job's model files of a dataset: ``normalized`` counts, ``design`` matrix,
    ``contrasts`` vectors, or the gene ``equivalence`` table (input functions only)."""
    if dataset == "bulk":
        return getattr(rules.bulk_de.output, kind)
    return snrna_de_paths(dataset.split("/", 1)[1])[kind]


def model_datasets(branch=None):
    """Datasets with a tested DE table, of one branch or all (input functions only)."""
    return list(dict.fromkeys(ds for ds, _ in enrichment_pairs(branch)))


def model_inputs(kind, branch=None):
    """Input function: the ``kind`` model file of every dataset (see :func:`de_model`)."""

    def _files(wildcards):
        return [de_model(ds, kind) for ds in model_datasets(branch)]

    return _files


def de_equivalence():
    """The DE jobs' equivalence test: the comparison, its gene margin (log2) and the two
    contrasts a dataset must have tested; None when the rescue analysis is off or the
    comparison is not defined."""
    if RESCUE is None or RESCUE.equivalence_contrast is None:
        return None
    return {
        **RESCUE.equivalence_contrast,
        "margin": config["rescue"]["gene_margin"],
        "requires": [RESCUE.pain_contrast, RESCUE.ketamine_contrast],
    }


def enrichment_outputs():
    """Targets, known at parse time (the snRNA GSEA job writes every cell type's tables)."""
    if BULK is None and SNRNA is None:
        return []
    names = ["enrichment_ora", "enrichment_summary", "enrichment_heatmap"]
    names += ["enrichment_running_sum"]
    names += ["enrichment_gsea_bulk"] if BULK is not None else []
    names += ["enrichment_gsea_snrna"] if SNRNA is not None else []
    if BULK is not None and SNRNA is not None:
        names.append("enrichment_bulk_vs_pseudobulk")
    return rule_outputs(*names)


def gsea_params():
    e = config["enrichment"]
    return dict(
        min_size=e["min_size"],
        max_size=e["max_size"],
        permutations=e["permutations"],
        weight=e["weight"],
        seed=config["seed"],
    )


def rescue_datasets(branch=None):
    """Datasets with DE tables of both the pain and the ketamine contrast.

    Reads checkpoint snrna_pseudobulk when the snRNA branch is on: input functions only.
    """
    if RESCUE is None:
        return []
    pairs = enrichment_pairs(branch)
    tested = set(pairs)
    return [
        ds
        for ds in dict.fromkeys(ds for ds, _ in pairs)
        if (ds, RESCUE.pain_contrast) in tested
        and (ds, RESCUE.ketamine_contrast) in tested
    ]


def rescue_branches():
    """Branches (bulk, snrna) whose datasets get a rescue analysis; known at parse time."""
    if RESCUE is None:
        return []
    return [b for b, on in (("bulk", BULK), ("snrna", SNRNA)) if on is not None]


def has_interaction():
    """Whether the bulk surgery x drug interaction is fitted (known at parse time)."""
    return (
        RESCUE is not None
        and RESCUE.interaction_design is not None
        and BULK is not None
    )


def rescue_inputs(kind, contrast_of):
    """Input function: one file per rescue dataset of the branch in the wildcards.

    ``kind`` is ``de`` (``contrast_of`` picks the pain or ketamine contrast) or a model
    file kind of :func:`de_model` (``contrast_of`` None).
    """

    def _files(wildcards):
        datasets = rescue_datasets(wildcards.branch)
        if kind != "de":
            return [de_model(ds, kind) for ds in datasets]
        return [de_table(ds, contrast_of(RESCUE)) for ds in datasets]

    return _files


def rescue_outputs():
    """Targets, all known at parse time (one set of files per branch)."""
    branches = rescue_branches()
    if not branches:
        return []
    out = [
        f
        for rule in (rules.rescue_tables, rules.rescue_plots)
        for f in expand(list(rule.output), branch=branches)
    ]
    out += rule_outputs("rescue_set_equivalence")
    if has_interaction():
        out += rule_outputs("rescue_interaction_de", "rescue_interaction_gsea")
    return out + rule_outputs("rescue_key_findings")
