from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shoprec.models import top_k

# Few distinct values, so ties (also across the cut at k) are common.
score_rows = arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30)),
                    elements=st.sampled_from([-np.inf, 0.0, 1.0, 2.0, 3.5]))  # fmt: skip


@given(scores=score_rows, k=st.integers(1, 40))
def test_top_k_equals_a_stable_full_sort(scores: np.ndarray, k: int) -> None:
    top, values = top_k(scores, k)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, axis=1))
