"""The one Benjamini-Hochberg of the library, with R's handling of missing p-values."""

import numpy as np
from acc_tiam1 import stats


def test_bh_matches_definition_and_keeps_nan_out_of_the_count():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    adj = stats.bh_adjust(p)
    assert np.isnan(adj[3])
    # m = 4: 0.01*4/1, min(0.03*4/2, 0.04*4/3), 0.04*4/3, 0.5*4/4
    np.testing.assert_allclose(adj[[0, 1, 2, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5], rtol=1e-12)
