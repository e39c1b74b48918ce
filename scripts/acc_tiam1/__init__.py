"""Analysis library of the ACC Tiam1 workflow.

Rule scripts in ``scripts/`` import from here; so do the tests. Nothing in this
package knows about Snakemake.
"""

__version__ = "0.1.0"
