"""Design formulas, contrasts and reference levels, and their checks against a sample sheet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError


@dataclass(frozen=True)
class Contrast:
    """A comparison of two levels of one design variable.

    Attributes
    ----------
    name
        Used in file names (``results/bulk/de/{name}.tsv``).
    variable
        Sample-sheet column, a term of the design.
    target
        The level whose change is reported (numerator of the fold change).
    reference
        The level it is compared to (denominator).
    """

    name: str
    variable: str
    target: str
    reference: str

    def as_pydeseq2(self) -> list[str]:
        """The ``[variable, tested, reference]`` list that pydeseq2 expects."""
        return [self.variable, self.target, self.reference]


def parse_contrasts(entries: Iterable[Mapping]) -> list[Contrast]:
    """Build :class:`Contrast` objects from the ``contrasts:`` config list."""
    contrasts = [
        Contrast(
            name=str(e["name"]),
            variable=str(e["variable"]),
            target=str(e["target"]),
            reference=str(e["reference"]),
        )
        for e in entries
    ]
    names = Counter(c.name for c in contrasts)
    dup = [n for n, k in names.items() if k > 1]
    if dup:
        raise InputError(f"contrast name(s) used twice: {', '.join(dup)}.", "contrasts")
    for c in contrasts:
        if c.target == c.reference:
            raise InputError(
                f"contrast '{c.name}' compares level '{c.target}' with itself.", "contrasts"
            )
    return contrasts


def design_variables(design: str, where: str = "design") -> list[str]:
    """Variables a design formula uses, in the order they appear.

    Parameters
    ----------
    design
        A formula such as ``"~ sex + batch + condition"``.
    where
        Config key, for error messages.

    Raises
    ------
    InputError
        When the formula does not parse.
    """
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    text = design.strip()
    if not text.startswith("~"):
        raise InputError(f"design '{design}' must start with '~', e.g. '~ sex + condition'.", where)
    try:
        formula = Formula(text)
        required = formula.required_variables
    except (FormulaicError, SyntaxError, ValueError) as err:
        first = str(err).splitlines()[0]
        raise InputError(f"design '{design}' does not parse: {first}", where) from err
    names = {str(v) for v in required}
    order = sorted(names, key=lambda v: (text.find(v), v))
    return order


def reference_levels(
    sheet: pd.DataFrame, variables: Sequence[str], contrasts: Sequence[Contrast]
) -> dict[str, str]:
    """Choose the reference level of every design variable.

    A variable that contrasts use gets the reference level that most of its contrasts
    name (the first such contrast on a tie), so that as many contrasts as possible are a
    single model coefficient, which is what LFC shrinkage needs. Other variables get
    their alphabetically first level, as R's ``factor()`` does.
    """
    refs: dict[str, str] = {}
    for var in variables:
        named = [c.reference for c in contrasts if c.variable == var]
        if named:
            counts = Counter(named)
            best = max(counts.values())
            refs[var] = next(r for r in named if counts[r] == best)
        else:
            refs[var] = sorted(sheet[var].unique())[0]
    return refs


def make_coldata(sheet: pd.DataFrame, design: str, contrasts: Sequence[Contrast]) -> pd.DataFrame:
    """Design variables of a sample sheet as categoricals with explicit reference levels.

    The reference level comes first in ``categories``; formulaic, and hence pydeseq2,
    treats the first category as the baseline of its treatment coding.
    """
    variables = design_variables(design)
    refs = reference_levels(sheet, variables, contrasts)
    coldata = pd.DataFrame(index=sheet.index)
    for var in variables:
        levels = sorted(sheet[var].unique())
        levels.remove(refs[var])
        coldata[var] = pd.Categorical(sheet[var], categories=[refs[var], *levels])
    return coldata


def shrink_coefficient(contrast: Contrast, coldata: pd.DataFrame) -> str | None:
    """Name of the model coefficient that equals ``contrast``, or None if there is none.

    pydeseq2's apeGLM-style shrinkage works on one coefficient; a contrast between two
    non-reference levels is a difference of coefficients and is left unshrunk.
    """
    ref = coldata[contrast.variable].cat.categories[0]
    if contrast.reference == ref:
        return f"{contrast.variable}[T.{contrast.target}]"
    return None


def validate_design(
    sheet: pd.DataFrame,
    design: str,
    contrasts: Sequence[Contrast],
    sheet_path: str,
    design_key: str = "design",
    min_replicates: int = 2,
) -> None:
    """Check that a design and its contrasts can be fitted on a sample sheet.

    Parameters
    ----------
    sheet
        Sample sheet indexed by sample id.
    design
        Design formula.
    contrasts
        Contrasts to test; each variable must be a design term.
    sheet_path
        For error messages.
    design_key
        Config key of the design, for error messages.
    min_replicates
        Fewest samples allowed in either group of a contrast.

    Raises
    ------
    InputError
        Naming the file, column and level that are wrong.
    """
    variables = design_variables(design, where=design_key)
    for var in variables:
        if var not in sheet.columns:
            raise InputError(
                f"design variable '{var}' (from {design_key} '{design}') is not a column "
                f"of the sample sheet (columns: {', '.join(sheet.columns)}).",
                sheet_path,
            )
        empty = sheet.index[sheet[var].isin(["", "NA", "NaN", "nan"])].tolist()
        if empty:
            raise InputError(
                f"column '{var}' has no value for sample(s) {', '.join(empty)}; every "
                "sample needs a value for every design variable.",
                sheet_path,
            )
        if sheet[var].nunique() < 2:
            raise InputError(
                f"design variable '{var}' has a single level ('{sheet[var].iloc[0]}'); "
                f"drop it from {design_key}.",
                sheet_path,
            )
    for c in contrasts:
        if c.variable not in variables:
            raise InputError(
                f"contrast '{c.name}' tests '{c.variable}', which is not a term of "
                f"{design_key} '{design}'.",
                sheet_path,
            )
        levels = sorted(sheet[c.variable].unique())
        for role, level in (("target", c.target), ("reference", c.reference)):
            if level not in levels:
                raise InputError(
                    f"contrast '{c.name}': {role} level '{level}' is not a value of "
                    f"column '{c.variable}' (levels: {', '.join(levels)}).",
                    sheet_path,
                )
            n = int((sheet[c.variable] == level).sum())
            if n < min_replicates:
                raise InputError(
                    f"contrast '{c.name}': level '{level}' of '{c.variable}' has {n} "
                    f"sample(s); at least {min_replicates} are needed to estimate variance.",
                    sheet_path,
                )
    check_full_rank(make_coldata(sheet, design, contrasts), design, sheet_path)


def design_matrix(coldata: pd.DataFrame, design: str) -> pd.DataFrame:
    """The model matrix pydeseq2 will fit (treatment coding, reference levels first)."""
    from formulaic_contrasts import FormulaicContrasts

    return FormulaicContrasts(coldata, design).design_matrix


def check_full_rank(coldata: pd.DataFrame, design: str, where: str) -> None:
    """Raise when the design's coefficients cannot all be estimated.

    This happens when variables are confounded (e.g. every batch-2 sample is pain) or a
    combination of levels has no samples in an interaction design.
    """
    mat = design_matrix(coldata, design)
    rank = np.linalg.matrix_rank(mat.to_numpy(dtype=float))
    if rank < mat.shape[1]:
        # Name the coefficients that are linear combinations of earlier ones.
        dependent = []
        cols = mat.to_numpy(dtype=float)
        for j in range(1, cols.shape[1]):
            if np.linalg.matrix_rank(cols[:, : j + 1]) <= np.linalg.matrix_rank(cols[:, :j]):
                dependent.append(mat.columns[j])
        raise InputError(
            f"design '{design}' is not of full rank: coefficient(s) "
            f"{', '.join(dependent)} cannot be separated from the others (confounded "
            "variables, or a level combination with no samples). Remove a confounded "
            "variable from the design or combine levels.",
            where,
        )
