"""The Laplace-prior Bayes estimator (Gibbs sampling) against numerical quadrature of
the exact posterior, p(w | data) proportional to exp(-|y - X w|^2 / (2 sigma^2) - |w|_1 / b),
in D = 1 and D = 2: the estimates must lie within a few of their own reported
Monte-Carlo standard errors, and those errors must be honest (calibrated)."""
import numpy as np
import pytest
from scipy import integrate, stats

from icl_diversity.laplace import (inverse_gaussian, laplace_bayes_predict, laplace_posterior_means,
                                   laplace_scale)
from icl_diversity.tasks import eval_set

NOISE = 0.25


def exact_posterior_mean(X, y, noise_var, b):
    """E[w | X, y] by quadrature, split at the prior's kinks (the axes), D = 1 or 2."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    D = X.shape[1]
    w_ridge = np.linalg.solve(X.T @ X + noise_var * np.eye(D), X.T @ y)

    def log_post(w):
        return -((y - X @ w) ** 2).sum() / (2 * noise_var) - np.abs(w).sum() / b

    shift = log_post(w_ridge)       # keeps exp() in range
    L = 20.0
    moments = []
    for f in [lambda w: 1.0] + [lambda w, d=d: w[d] for d in range(D)]:
        total = 0.0
        if D == 1:
            for lo, hi in ((-L, 0.0), (0.0, L)):
                total += integrate.quad(lambda a: f(np.array([a])) * np.exp(log_post(np.array([a])) - shift),
                                        lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
        else:
            for (a0, a1) in ((-L, 0.0), (0.0, L)):
                for (b0, b1) in ((-L, 0.0), (0.0, L)):
                    g = lambda v, u: f(np.array([u, v])) * np.exp(log_post(np.array([u, v])) - shift)  # noqa: E731
                    total += integrate.dblquad(g, a0, a1, b0, b1, epsabs=1e-12, epsrel=1e-10)[0]
        moments.append(total)
    return np.array(moments[1:]) / moments[0]


def small_data(D, n, K, seed):
    s = eval_set(D, K, NOISE, n, seed)
    return s["xs"], s["ys"]


@pytest.mark.parametrize("D,seed", [(1, 0), (1, 1), (2, 2), (2, 3)])
def test_matches_quadrature(D, seed):
    xs, ys = small_data(D, 2, 4, seed)
    mean, se = laplace_posterior_means(xs, ys, NOISE, rng=np.random.default_rng(seed),
                                       n_samples=2000, target_se=0.01, max_samples=64000)
    b = laplace_scale(1.0)
    assert se.max() <= 0.01
    for n in range(len(xs)):
        for k in range(1, xs.shape[1]):
            exact = exact_posterior_mean(xs[n, :k], ys[n, :k], NOISE, b)
            err = np.abs(mean[n, k] - exact)
            assert np.all(err <= 4 * se[n, k] + 1e-9), (n, k, mean[n, k], exact, se[n, k])
    # and it is not Ridge's answer (the prior matters at these small k)
    from icl_diversity.baselines import ridge_posterior_means
    assert np.abs(mean[:, 1:] - ridge_posterior_means(xs, ys, NOISE)[:, 1:]).max() > 0.02


def test_standard_errors_are_calibrated():
    # 300 independent chains on one D = 2 dataset with one example (a broad posterior):
    # their errors against quadrature, in units of their own standard errors, have
    # spread ~1
    xs, ys = small_data(2, 1, 3, 7)
    xs, ys = np.repeat(xs, 300, axis=0), np.repeat(ys, 300, axis=0)
    mean, se = laplace_posterior_means(xs, ys, NOISE, rng=np.random.default_rng(7), n_samples=1000)
    for k in (1, 2):
        exact = exact_posterior_mean(xs[0, :k], ys[0, :k], NOISE, laplace_scale(1.0))
        z = (mean[:, k] - exact) / se[:, k]
        assert 0.75 < z.std() < 1.35, z.std()
        assert abs(z.mean()) < 4 * z.std() / np.sqrt(len(z)) + 0.1


def test_no_examples_gives_the_prior_mean():
    xs, ys = small_data(3, 5, 4, 8)
    mean, se = laplace_posterior_means(xs, ys, NOISE, rng=np.random.default_rng(0), n_samples=100)
    assert np.all(mean[:, 0] == 0) and np.all(se[:, 0] == 0)
    pred, pred_se = laplace_bayes_predict(xs, ys, NOISE, rng=np.random.default_rng(0), n_samples=100)
    assert np.all(pred[:, 0] == 0) and np.all(pred_se[:, 0] == 0)
    assert np.all(pred_se[:, 1:] > 0)


def test_predictions_are_x_dot_mean_and_reproducible():
    xs, ys = small_data(3, 4, 5, 9)
    kw = dict(rng=np.random.default_rng(5), n_samples=200)
    pred, _ = laplace_bayes_predict(xs, ys, NOISE, **kw)
    mean, _ = laplace_posterior_means(xs, ys, NOISE, rng=np.random.default_rng(5), n_samples=200)
    np.testing.assert_allclose(pred, np.einsum("nkd,nkd->nk", mean, xs.astype(np.float64)),
                               rtol=1e-12, atol=1e-12)
    again, _ = laplace_bayes_predict(xs, ys, NOISE, rng=np.random.default_rng(5), n_samples=200)
    assert np.array_equal(pred, again)


def test_target_that_cannot_be_met_raises():
    xs, ys = small_data(2, 2, 3, 10)
    with pytest.raises(RuntimeError, match="above the target"):
        laplace_posterior_means(xs, ys, NOISE, rng=np.random.default_rng(0), n_samples=100,
                                target_se=1e-6, max_samples=300)


def test_bad_arguments():
    xs, ys = small_data(2, 2, 3, 11)
    with pytest.raises(ValueError, match="noise_var"):
        laplace_posterior_means(xs, ys, 0.0)
    with pytest.raises(ValueError, match="n_batches"):
        laplace_posterior_means(xs, ys, NOISE, n_samples=10, n_batches=20)
    with pytest.raises(ValueError):
        laplace_posterior_means(xs, ys[:, :2], NOISE)


@pytest.mark.parametrize("mean", [0.3, 5.0, 1e6])
def test_inverse_gaussian_sampler(mean):
    # shape 2 = 1/b^2 at task_scale 1; huge means are what w_j near 0 produces
    draws = inverse_gaussian(np.full(20000, mean), 2.0, np.random.default_rng(0))
    assert np.all(draws > 0) and np.all(np.isfinite(draws))
    # scipy's invgauss(mu, scale) has mean mu * scale and shape scale
    assert stats.kstest(draws, stats.invgauss(mean / 2.0, scale=2.0).cdf).pvalue > 1e-3
