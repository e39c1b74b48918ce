"""Library strandedness: inferred per sample, checked across samples, used for counting.

The fraction of fragments whose read 1 lies on the transcript's strand ("forward") and on
the opposite strand ("reverse") comes from salmon's ``lib_format_counts.json`` (fragments
compatible with each library format, ``salmon -l A``) or from STAR's
``ReadsPerGene.out.tab`` (columns 3 and 4 count reads as htseq-count ``-s yes`` and
``-s reverse`` would). The call uses nf-core/rnaseq's rule: stranded when at least 80% of
the fragments are in one orientation, unstranded when the two fractions differ by less
than 10 percentage points, undetermined otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import InputError

STRANDEDNESS = ("unstranded", "forward", "reverse")
#: featureCounts ``-s`` code of each strandedness.
FEATURECOUNTS_STRAND = {"unstranded": 0, "forward": 1, "reverse": 2}
#: salmon library types (paired, single) of each strandedness (dUTP libraries: reverse).
SALMON_LIBTYPE = {"unstranded": ("IU", "U"), "forward": ("ISF", "SF"), "reverse": ("ISR", "SR")}
_FORWARD_FORMATS = ("ISF", "OSF", "MSF", "SF")
_REVERSE_FORMATS = ("ISR", "OSR", "MSR", "SR")


def call_strandedness(
    forward: float,
    reverse: float,
    stranded_threshold: float = 0.8,
    unstranded_threshold: float = 0.1,
) -> tuple[str, float]:
    """Call strandedness from counts of forward and reverse fragments.

    Parameters
    ----------
    forward, reverse
        Fragments (or reads) in each orientation.
    stranded_threshold
        Smallest fraction in one orientation for a stranded call.
    unstranded_threshold
        Largest difference of the two fractions for an unstranded call.

    Returns
    -------
    ``(call, forward fraction)``; call is one of :data:`STRANDEDNESS` or
    ``"undetermined"`` (also when there is nothing to count).
    """
    total = forward + reverse
    if total <= 0:
        return "undetermined", float("nan")
    fwd = forward / total
    if fwd >= stranded_threshold:
        return "forward", fwd
    if 1 - fwd >= stranded_threshold:
        return "reverse", fwd
    if abs(fwd - (1 - fwd)) < unstranded_threshold:
        return "unstranded", fwd
    return "undetermined", fwd


def salmon_orientation(path: str | Path) -> tuple[float, float]:
    """Forward and reverse fragment counts from salmon's ``lib_format_counts.json``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read salmon's library format counts ({err}).", path) from err
    forward = sum(float(data.get(k, 0)) for k in _FORWARD_FORMATS)
    reverse = sum(float(data.get(k, 0)) for k in _REVERSE_FORMATS)
    return forward, reverse


def star_orientation(path: str | Path) -> tuple[float, float]:
    """Forward and reverse read counts from STAR's ``ReadsPerGene.out.tab``.

    Columns 3 and 4, summed over genes (the ``N_`` summary lines are left out).
    """
    table = pd.read_csv(path, sep="\t", header=None, comment=None)
    genes = table[~table[0].astype(str).str.startswith("N_")]
    return float(genes[2].sum()), float(genes[3].sum())


def strandedness_table(
    orientation: Mapping[str, tuple[float, float]], configured: str, source: str
) -> pd.DataFrame:
    """Per-sample strandedness: inferred, checked against the others, and the one used.

    Parameters
    ----------
    orientation
        ``{sample: (forward, reverse)}`` counts.
    configured
        ``auto`` or one of :data:`STRANDEDNESS` (the config's ``bulk.strandedness``).
    source
        What the counts come from, for the table.

    Returns
    -------
    Columns ``sample, source, forward_fraction, inferred, configured, used, flag``. The
    value used is the configured one; under ``auto`` each sample's own call, or for an
    undetermined sample the most common call of the others. ``flag`` says why a sample
    needs a look (empty when it does not).

    Raises
    ------
    InputError
        Under ``auto`` when no sample's strandedness can be determined.
    """
    rows = []
    for sample, (fwd, rev) in orientation.items():
        call, fraction = call_strandedness(fwd, rev)
        rows.append(
            {
                "sample": sample,
                "source": source,
                "forward_fraction": round(fraction, 4),
                "inferred": call,
                "configured": configured,
            }
        )
    table = pd.DataFrame(rows)
    determined = table.loc[table["inferred"] != "undetermined", "inferred"]
    majority = Counter(determined).most_common(1)[0][0] if len(determined) else None
    if configured == "auto" and majority is None:
        shown = ", ".join(f"{r.sample} ({r.forward_fraction:.2f})" for r in table.itertuples())
        raise InputError(
            "the library strandedness could not be determined from any sample (fraction of "
            f"fragments in forward orientation: {shown}); set bulk.strandedness to "
            "unstranded, forward or reverse.",
            "bulk.strandedness",
        )
    flags, used = [], []
    for row in table.itertuples():
        flag = []
        if row.inferred == "undetermined":
            flag.append(f"undetermined (forward fraction {row.forward_fraction:.2f})")
        elif majority is not None and row.inferred != majority:
            flag.append(f"looks {row.inferred} but most samples look {majority}")
        if configured != "auto" and row.inferred not in ("undetermined", configured):
            flag.append(f"configured {configured} but the reads look {row.inferred}")
        flags.append("; ".join(flag))
        if configured != "auto":
            used.append(configured)
        else:
            used.append(row.inferred if row.inferred != "undetermined" else majority)
    return table.assign(used=used, flag=flags)
