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
        ({"contrasts": [{"name": "a", "variable": "v", "target": "t", "reference": "r",
                         "refrence": "x"}]}, "'contrasts[0].refrence'"),
        ({"zzz": 1}, "unknown config key(s): 'zzz'."),
    ],
)
def test_unknown_keys_are_named_with_suggestions(config, message):
    with pytest.raises(InputError) as err:
        check_unknown_keys(config, SCHEMA)
    assert message in str(err.value)
