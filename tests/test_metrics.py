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


def test_run_tables_curve_on_the_first_sequences_final_on_all():
    """Against sums written out by hand: the curve's PT loss at each step is the mean
    squared error over the first S sequences, the final table's over all N."""
    from icl_diversity.metrics import run_tables
    rng = np.random.default_rng(1)
    N, S, K, D, E = 10, 4, 3, 2, 3
    sets = {name: {"xs": rng.standard_normal((N, K, D)), "ys": rng.standard_normal((N, K)),
                   "ws": rng.standard_normal((N, D))} for name in ("true", "pretrain")}
    baselines = {f"{name}_Ridge": 0.9 * sets[name]["ys"] for name in sets}
    baselines["pretrain_dMMSE"] = 0.8 * sets["pretrain"]["ys"]
    final = {name: 0.5 * sets[name]["ys"] + 0.1 for name in sets}
    curve_preds = {f"{name}_curve": np.stack([s * final[name][:S] for s in (0.0, 0.5, 1.0)]) for name in sets}
    pt = {"steps": np.array([0, 10, 20]), **curve_preds, **final}
    curve, table, health = run_tables(pt, sets, baselines, D, 0.5, M=4, setting="x", seed=0)
    assert set(curve["position"]) == {0} and set(table["position"]) == set(range(K + 1))
    loss = curve[(curve["metric"] == "loss_per_dim") & (curve["target"] == "noisy")
                 & (curve["eval_set"] == "true")].sort_values("step")
    for e, value in enumerate(loss["value"]):
        want = sum((curve_preds["true_curve"][e][n, k] - sets["true"]["ys"][n, k]) ** 2
                   for n in range(S) for k in range(K)) / (S * K * D)
        assert value == pytest.approx(want, rel=1e-12)
    row = table[(table["metric"] == "delta_dmmse") & (table["position"] == 0)]
    want = np.mean((final["pretrain"] - baselines["pretrain_dMMSE"]) ** 2) / D
    assert row["value"].item() == pytest.approx(want, rel=1e-12) and row["step"].item() == 20
    assert not len(table[(table["metric"] == "delta_dmmse") & (table["eval_set"] == "true")])
    # the verdict comes from every sequence (the final gap), the escape step from the curve
    assert health["gap_closed"] == pytest.approx(
        gap_closed(final["pretrain"], sets["pretrain"]["ys"], baselines["pretrain_Ridge"]))
    gaps = [gap_closed(p, sets["pretrain"]["ys"][:S], baselines["pretrain_Ridge"][:S])
            for p in curve_preds["pretrain_curve"]]
    assert list(curve.drop_duplicates("step")["gap_closed"]) == pytest.approx(gaps)
