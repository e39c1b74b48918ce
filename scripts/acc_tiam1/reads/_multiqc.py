"""MultiQC over the front end's logs: the file list, its config, custom-content tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

#: MultiQC settings: sample names from file names (fastp's default takes the input FASTQ
#: name, which lanes share), no network version check.
MULTIQC_CONFIG = """\
fastp:
  s_name_filenames: true
extra_fn_clean_exts:
  - ".fastp"
  - ".Aligned.sortedByCoord.out"
no_version_check: true
"""


def custom_content(table: pd.DataFrame, section_id: str, name: str, description: str) -> str:
    """A MultiQC custom-content table (``*_mqc.tsv``): YAML header lines, then the TSV.

    Parameters
    ----------
    table
        First column: the sample name.
    section_id, name, description
        MultiQC's ``id``, ``section_name`` and ``description``.
    """
    meta = {
        "id": section_id,
        "section_name": name,
        "description": description,
        "plot_type": "table",
    }
    text = yaml.safe_dump(meta, sort_keys=False, width=10**6)
    header = "".join(f"# {line}\n" for line in text.splitlines())
    return header + table.to_csv(sep="\t", index=False, lineterminator="\n")


def multiqc_command(
    files: Sequence[str], outdir: str, file_list: str, config: str, title: str = "Reads to counts"
) -> list[str]:
    """The MultiQC command line over exactly the listed files.

    ``multiqc_report.html`` and ``multiqc_report_data/`` are written to ``outdir``.

    Parameters
    ----------
    files
        Logs to read (written to ``file_list``, one per line).
    outdir
        Folder of ``multiqc_report.html`` and ``multiqc_data/``.
    file_list, config
        Paths where the file list and :data:`MULTIQC_CONFIG` are written.
    """
    Path(file_list).write_text("".join(f"{f}\n" for f in files))
    Path(config).write_text(MULTIQC_CONFIG)
    return [
        sys.executable,
        "-m",
        "multiqc",
        "--file-list",
        file_list,
        "--config",
        config,
        "--outdir",
        outdir,
        "--filename",
        "multiqc_report.html",
        "--force",
        "--title",
        title,
        "--no-ansi",
        "--data-format",
        "tsv",
    ]
