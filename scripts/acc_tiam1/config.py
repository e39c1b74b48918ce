"""Cross-checks of a validated config against the files it names.

JSON schemas (``workflow/schemas/``) check the config's shape; the functions here check
what a schema cannot: that files exist, that sample sheets fit the design and contrasts.
They run when Snakemake builds the DAG, before any job starts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .design import Contrast, parse_contrasts, validate_design
from .errors import InputError
from .io import read_sample_sheet

#: Files the demo rules write; a config may name them before they exist.
DEMO_BULK_COUNTS = "resources/demo/bulk_counts.tsv"
DEMO_BULK_TRUTH = "resources/demo/bulk_truth.tsv"


@dataclass
class BulkInputs:
    """What the bulk branch needs, checked."""

    counts: str
    samples_path: str
    samples: pd.DataFrame
    design: str


def check_input_file(path: str, key: str, producible: Collection[str] = ()) -> None:
    """Raise unless ``path`` exists or a rule of this workflow will write it."""
    if Path(path).exists() or str(Path(path)) in {str(Path(p)) for p in producible}:
        return
    raise InputError(f"file '{path}' does not exist (check the path; relative paths are "
                     "taken from the folder you run snakemake in).", key)


def check_bulk(config: Mapping, producible: Collection[str] = ()) -> BulkInputs | None:
    """Check the ``bulk:`` section and return its inputs, or None when it is absent.

    Parameters
    ----------
    config
        The schema-validated config.
    producible
        Paths that rules write (the demo study), allowed not to exist yet.
    """
    bulk = config.get("bulk")
    if not bulk:
        return None
    check_input_file(bulk["samples"], "bulk.samples")
    check_input_file(bulk["counts"], "bulk.counts", producible)
    sheet = read_sample_sheet(bulk["samples"])
    validate_design(
        sheet,
        bulk["design"],
        contrasts(config),
        sheet_path=bulk["samples"],
        design_key="bulk.design",
        min_replicates=config["de"]["min_group_size"],
    )
    return BulkInputs(
        counts=bulk["counts"], samples_path=bulk["samples"], samples=sheet,
        design=bulk["design"],
    )


def contrasts(config: Mapping) -> list[Contrast]:
    """The configured contrasts."""
    return parse_contrasts(config["contrasts"])
