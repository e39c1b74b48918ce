"""Rule reads_cell_calling: nuclei called per sample, with STARsolo's summary metrics."""

import json
from pathlib import Path

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    samples = smk.params.samples
    summaries = {
        s: json.loads(Path(f).read_text())
        for s, f in zip(samples, smk.input.summaries, strict=True)
    }
    solo = {
        s: reads.read_solo_summary(Path(d) / "GeneFull" / "Summary.csv")
        for s, d in zip(samples, smk.input.solo, strict=True)
    }
    table = reads.cell_calling_table(summaries, solo)
    io.write_tsv(table, smk.output.table, index=False)
    io.write_text(
        reads.custom_content(
            table[
                [
                    "sample",
                    "nuclei",
                    "median_umis_per_nucleus",
                    "intronic_fraction",
                    "raw_barcodes_with_counts",
                ]
            ],
            "starsolo_cells",
            "STARsolo nuclei",
            f"Nuclei called by STARsolo ({smk.params.cell_filter}) on GeneFull counts; "
            "intronic fraction = share of UMIs in nuclei counted by GeneFull but not Gene.",
        ),
        smk.output.mqc,
    )


run_rule(main, snakemake)
