"""File-safe names of cell-type labels (``L2/3 IT`` -> ``L2-3_IT``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import InputError

#: Label of nuclei whose cluster matches no cell type of the marker table.
UNASSIGNED = "Unassigned"


def safe_name(label: str) -> str:
    """The file-safe form of a cell-type label, used in every path.

    ``/`` becomes ``-``, runs of white space become ``_``, any other character outside
    ``[A-Za-z0-9_.-]`` becomes ``_``; leading and trailing ``_``/``.`` are dropped.

    Examples
    --------
    >>> safe_name("L2/3 IT")
    'L2-3_IT'
    >>> safe_name("L6 IT Car3")
    'L6_IT_Car3'
    """
    name = str(label).strip().replace("/", "-")
    name = re.sub(r"\s+", "_", name)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    name = name.strip("_.")
    if not name:
        raise InputError(f"cell type '{label}' has no file-safe name (use letters or digits).")
    return name


def safe_names(labels: Sequence[str], where: str | None = None) -> dict[str, str]:
    """``{label: safe name}``; raises when two labels share a file-safe name."""
    mapping = {str(lbl): safe_name(lbl) for lbl in labels}
    seen: dict[str, str] = {}
    for lbl, safe in mapping.items():
        if safe in seen:
            raise InputError(
                f"cell types '{seen[safe]}' and '{lbl}' have the same file-safe name "
                f"'{safe}'; rename one of them.",
                where,
            )
        if safe == safe_name(UNASSIGNED):
            raise InputError(f"'{UNASSIGNED}' is reserved; rename cell type '{lbl}'.", where)
        seen[safe] = lbl
    return mapping
