"""The plateau guard's arithmetic, against hand-computed values."""
import numpy as np
import pytest

from icl_diversity.metrics import gap_closed, plateau_guard


def test_gap_closed_is_zero_on_the_plateau_and_one_at_ridge():
    rng = np.random.default_rng(0)
    ys = rng.standard_normal((50, 8))
    ridge = ys + 0.5 * rng.standard_normal(ys.shape)     # some estimator better than 0
    assert gap_closed(np.zeros_like(ys), ys, ridge) == pytest.approx(0.0)
    assert gap_closed(ridge, ys, ridge) == pytest.approx(1.0)
    assert gap_closed(ys, ys, ridge) > 1.0               # perfect: better than Ridge
    # by hand: plateau mean(ys^2), loss mean((f-ys)^2), Ridge's likewise
    f = 0.5 * ys
    plateau, loss, r = np.mean(ys ** 2), np.mean((f - ys) ** 2), np.mean((ridge - ys) ** 2)
    assert gap_closed(f, ys, ridge) == pytest.approx((plateau - loss) / (plateau - r))


def test_plateau_guard_escape_step_and_stuck():
    steps = [0, 100, 200, 300]
    h = plateau_guard(steps, [0.0, 0.2, 0.6, 0.95], guard=0.8)
    assert h == {"gap_closed": 0.95, "escape_step": 200.0, "stuck": False}
    h = plateau_guard(steps, [0.0, 0.01, 0.02, 0.0], guard=0.8)
    assert h["stuck"] and np.isnan(h["escape_step"])
    # left the plateau but still far from Ridge at the end: stuck as well
    assert plateau_guard(steps, [0.0, 0.3, 0.55, 0.64], guard=0.8)["stuck"]
