"""Rule snrna_de_summary: significant genes per cell type x contrast, skipped ones too."""

import pandas as pd
from acc_tiam1 import de, io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    plan = io.read_tsv(smk.input.plan, index_col=None)
    tested, _ = snrna.plan_pairs(plan)
    tables = {
        key: io.read_tsv(path, index_col=None)
        for key, path in zip(smk.params.datasets, smk.input.tables, strict=True)
        if key in tested
    }
    counts = de.summarise_tables(tables, smk.params.alpha)
    counts[["cell_type_safe", "contrast"]] = pd.DataFrame(
        counts.pop("contrast").tolist(), index=counts.index
    )
    summary = plan.merge(counts, on=["cell_type_safe", "contrast"], how="left")
    # Skipped pairs have no counts: integers with gaps, not floats.
    numeric = [c for c in counts.columns if pd.api.types.is_integer_dtype(counts[c])]
    summary[numeric] = summary[numeric].astype("Int64")
    io.write_tsv(summary, smk.output.summary, index=False)


run_rule(main, snakemake)
