"""Friendlier checks of a config against its JSON schema.

``snakemake.utils.validate`` reports the first schema violation in JSON-schema terms; a
mistyped key deserves a "did you mean" and the path of the key, which this module adds.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from .errors import InputError


def object_schema(schema: Mapping) -> Mapping | None:
    """The object form of a sub-schema, or None when it does not allow an object.

    A sub-schema allows an object when its ``type`` is ``"object"`` or a list that holds
    ``"object"`` (``type: ["object", "null"]``: an optional section), or when one of its
    ``anyOf``/``oneOf`` alternatives does.
    """
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return schema
    for key in ("anyOf", "oneOf"):
        for alternative in schema.get(key, []):
            if isinstance(alternative, Mapping) and (found := object_schema(alternative)):
                return found
    return None


def unknown_keys(config: Mapping, schema: Mapping, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys of ``config`` that ``schema`` does not allow, with close matches.

    Only objects with ``additionalProperties: false`` are checked; lists of objects are
    checked item by item. Sub-schemas that allow an object or something else (``type:
    ["object", "null"]``, ``anyOf``/``oneOf``) are checked when the value is an object.

    Returns
    -------
    ``[(dotted key, [suggestions])]``.
    """
    found: list[tuple[str, list[str]]] = []
    schema = object_schema(schema) if isinstance(config, Mapping) else None
    if schema is None:
        return found
    props = schema.get("properties", {})
    for key, value in config.items():
        path = f"{prefix}{key}"
        if key in props:
            sub = props[key]
            if isinstance(value, Mapping):
                found += unknown_keys(value, sub, f"{path}.")
            elif isinstance(value, list) and isinstance(sub.get("items"), Mapping):
                for i, item in enumerate(value):
                    found += unknown_keys(item, sub["items"], f"{path}[{i}].")
        elif schema.get("additionalProperties") is False:
            found.append((path, difflib.get_close_matches(str(key), list(props), n=2)))
    return found


def check_unknown_keys(config: Mapping, schema: Mapping) -> None:
    """Raise :class:`InputError` for config keys the schema does not know.

    Raises
    ------
    InputError
        Naming each unknown key, with a suggestion where one is close.
    """
    problems = unknown_keys(config, schema)
    if not problems:
        return
    parts = []
    for path, close in problems:
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        parts.append(f"'{path}'{hint}")
    raise InputError(
        f"unknown config key(s): {', '.join(parts)}. Every key is listed in config/README.md.",
        "config",
    )
