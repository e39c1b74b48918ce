"""Rule snrna_de: pseudobulk DE of every cell type of the marker table, one fit each.

One job for all cell types: each fit takes a second or two, so a job per cell type
would spend most of its time starting Python. A cell type the plan does not test at all
gets tables with the columns and no genes (the plan says why).
"""

import logging
from functools import partial

from acc_tiam1 import de, design, io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    plan = io.read_tsv(smk.input.plan, index_col=None)
    tested_pairs, skipped = snrna.plan_pairs(plan)
    sheet = io.read_sample_sheet(smk.input.samples)
    contrasts = design.parse_contrasts(p.contrasts)
    for safe, files in p.files.items():
        tested = [c for c in contrasts if (safe, c.name) in tested_pairs]
        for name in p.contrast_names:
            if (safe, name) in skipped:
                logging.info("%s: %s: not tested (%s)", safe, name, skipped[safe, name])
        if not tested:
            de.untested_dataset(p.contrast_names).write(files["tables"], files)
            continue
        counts, genes = io.read_prepared_counts(files["counts"])
        annotate = None
        if p.ambient:
            explained = io.read_tsv(files["ambient"], index_col=None)
            annotate = partial(
                snrna.flag_mostly_ambient,
                explained=explained,
                cell_type=explained["cell_type"].iloc[0],
                alpha=p.de["alpha"],
                max_fraction=p.ambient_max_fraction,
            )
        # The tested contrasts, in config order, set the reference levels of the fit.
        result = de.fit_dataset(
            counts,
            genes,
            sheet,
            p.design,
            tested,
            p.contrast_names,
            p.de,
            equivalence=p.equivalence,
            annotate=annotate,
            label=safe,
        )
        result.write(files["tables"], files)


run_rule(main, snakemake)
