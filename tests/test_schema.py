"""Unknown config keys get a 'did you mean'."""

import pytest
import yaml
from acc_tiam1.errors import InputError
from acc_tiam1.schema import check_unknown_keys, unknown_keys
from conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_shipped_config_has_no_unknown_keys():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert unknown_keys(config, SCHEMA) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"bluk": {}}, "'bluk' (did you mean 'bulk'?)"),
        ({"de": {"alhpa": 0.05}}, "'de.alhpa' (did you mean 'alpha'?)"),
        (
            {
                "contrasts": [
                    {"name": "a", "variable": "v", "target": "t", "reference": "r", "refrence": "x"}
                ]
            },
            "'contrasts[0].refrence'",
        ),
        ({"zzz": 1}, "unknown config key(s): 'zzz'."),
        # An optional section (type: [object, null]) is checked when it is given.
        (
            {
                "rescue": {
                    "interaction": {
                        "design": "~ a * b",
                        "reference": {"a": "x"},
                        "coeficient": "a:b",
                    }
                }
            },
            "'rescue.interaction.coeficient' (did you mean 'coefficient'?)",
        ),
    ],
)
def test_unknown_keys_are_named_with_suggestions(config, message):
    with pytest.raises(InputError) as err:
        check_unknown_keys(config, SCHEMA)
    assert message in str(err.value)


def test_object_or_null_sections_are_checked_in_any_schema():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "opt": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {"alpha": {"type": "number"}},
            },
            "alt": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"beta": {"type": "number"}},
                    },
                ]
            },
        },
    }
    assert unknown_keys({"opt": None, "alt": None}, schema) == []
    assert unknown_keys({"opt": {"alpha": 1}, "alt": {"beta": 2}}, schema) == []
    assert unknown_keys({"opt": {"alpah": 1}, "alt": {"betta": 2}}, schema) == [
        ("opt.alpah", ["alpha"]),
        ("alt.betta", ["beta"]),
    ]


def test_free_form_mappings_are_not_flagged():
    # rescue.interaction.reference maps any variable to its reference level.
    config = {
        "rescue": {
            "interaction": {
                "design": "~ surgery * drug",
                "reference": {"surgery": "sham", "drug": "saline"},
            }
        }
    }
    assert unknown_keys(config, SCHEMA) == []
