"""The checked table reader: what each table promises, and a clear error naming the
file when a table has been cut, emptied or edited."""
import numpy as np
import pandas as pd
import pytest

from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.tables import TableError, concat_tables, read_table

K, D = 4, 3


def run_table(seed=0):
    rng = np.random.default_rng(seed)
    data = {"xs": rng.standard_normal((20, K, D)).astype(np.float32),
            "ys": rng.standard_normal((20, K)).astype(np.float32),
            "ws": rng.standard_normal((20, D)).astype(np.float32)}
    preds = {"PT": rng.standard_normal((20, K)), "Ridge": rng.standard_normal((20, K)),
             "dMMSE": rng.standard_normal((20, K))}
    rows = estimator_rows(preds, data, D, estimators=["PT"], eval_set="true", M=16.0,
                          setting="tiny-b8-s10-wd0", seed=seed, step=10, gap_closed=0.9)
    return to_frame(rows).assign(escape_step=5.0, stuck=False)


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "metrics.csv"
    run_table().to_csv(path, index=False)
    return path


def test_a_sound_table_reads_back(table_file):
    t = read_table(table_file, "pt_metrics", K)
    assert len(t) == 4 * (K + 1) and t["stuck"].dtype == bool


def test_a_table_cut_mid_line_is_refused_by_name(table_file):
    text = table_file.read_text()
    table_file.write_text(text[: int(len(text) * 0.6)])
    with pytest.raises(TableError, match="metrics.csv"):
        read_table(table_file, "pt_metrics", K)


def test_an_empty_table_is_refused_by_name(table_file):
    table_file.write_text("")
    with pytest.raises(TableError, match="metrics.csv.*not a readable"):
        read_table(table_file, "pt_metrics", K)


def test_missing_rows_are_found(table_file):
    t = pd.read_csv(table_file)
    t.drop(index=[3]).to_csv(table_file, index=False)
    with pytest.raises(TableError, match="positions 0..4"):
        read_table(table_file, "pt_metrics", K)


def test_curves_hold_the_mean_over_positions_only(tmp_path):
    path = tmp_path / "curve.csv"
    full = run_table()
    full[full["position"] == 0].to_csv(path, index=False)
    assert set(read_table(path, "pt_curves", K)["position"]) == {0}
    full.to_csv(path, index=False)                 # every position: not what a curve holds
    with pytest.raises(TableError, match="curve.csv.*exactly positions 0..0"):
        read_table(path, "pt_curves", K)


@pytest.mark.parametrize("column,value,needle", [
    ("value", "oops", "non-numbers"),
    ("value", np.nan, "column value is empty"),
    ("stuck", "maybe", "stuck"),
])
def test_bad_cells_are_found(table_file, column, value, needle):
    t = pd.read_csv(table_file)
    t[column] = t[column].astype(object)
    t.loc[2, column] = value
    t.to_csv(table_file, index=False)
    with pytest.raises(TableError, match=needle):
        read_table(table_file, "pt_metrics", K)


def test_duplicates_and_missing_columns_are_found(table_file):
    t = pd.read_csv(table_file)
    pd.concat([t, t.iloc[:1]]).to_csv(table_file, index=False)
    with pytest.raises(TableError, match="duplicate"):
        read_table(table_file, "pt_metrics", K)
    t.drop(columns=["seed"]).to_csv(table_file, index=False)
    with pytest.raises(TableError, match=r"lacks columns \['seed'\]"):
        read_table(table_file, "pt_metrics", K)


def test_label_columns_stay_text_when_a_file_holds_one_value(table_file, tmp_path):
    """A file whose eval_set is "true" throughout (the Laplace Bayes rows) must not read
    as booleans, or its rows would not concatenate with other files' "true" rows."""
    other = tmp_path / "pretrain.csv"
    run_table(1).assign(eval_set="pretrain").to_csv(other, index=False)
    assert read_table(table_file, "pt_metrics", K)["eval_set"].tolist() == ["true"] * 4 * (K + 1)
    both = concat_tables([table_file, other], "pt_metrics", K)
    assert sorted(set(both["eval_set"])) == ["pretrain", "true"]


def test_concat_checks_every_input(tmp_path):
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"s{seed}.csv")
        run_table(seed).to_csv(paths[-1], index=False)
    assert len(concat_tables(paths, "pt_metrics", K)) == 2 * 4 * (K + 1)
    paths[1].write_text(paths[1].read_text()[:300])
    with pytest.raises(TableError, match="s1.csv"):
        concat_tables(paths, "pt_metrics", K)


def test_the_interpolation_table_holds_baselines_with_seed_dash(tmp_path):
    pt = run_table().drop(columns=["step", "gap_closed", "escape_step"]).assign(a=0.5)
    base = pt[pt["metric"] == "loss_per_dim"].assign(estimator="Ridge", setting="-", seed="-")
    path = tmp_path / "interpolation.csv"
    pd.concat([pt, base]).to_csv(path, index=False)
    t = read_table(path, "interpolation", K)
    assert set(t["seed"]) == {"0", "-"}
    pd.concat([pt, base, base]).to_csv(path, index=False)
    with pytest.raises(TableError, match="duplicate"):
        read_table(path, "interpolation", K)


def test_a_barrier_table_with_a_text_barrier_is_refused(tmp_path):
    row = dict(pair="M_vs_inf", setting="s", M=16, M_b="inf", seed_a=0, seed_b=0, loss_a=0.3,
               loss_b=0.2, barrier=0.01, barrier_stderr=0.001, t_max=0.5, stuck=False)
    path = tmp_path / "barriers.csv"
    pd.DataFrame([row]).to_csv(path, index=False)
    assert np.isinf(read_table(path, "barriers")["M_b"].iloc[0])
    pd.DataFrame([dict(row, barrier="big")]).to_csv(path, index=False)
    with pytest.raises(TableError, match="barrier"):
        read_table(path, "barriers")


def test_rows_with_no_M_of_their_own_are_repeated_at_each_M(tmp_path):
    """The Laplace prior's Bayes rows do not depend on the pool: its metrics file holds
    them once, at M = inf, and the baselines table repeats them at each of the problem's M."""
    rng = np.random.default_rng(0)
    data = {"xs": rng.standard_normal((20, K, D)), "ys": rng.standard_normal((20, K)),
            "ws": rng.standard_normal((20, D))}
    preds = {e: rng.standard_normal((20, K)) for e in ("Ridge", "dMMSE", "Bayes")}
    per_M, bayes = tmp_path / "M2.csv", tmp_path / "bayes.csv"
    to_frame(estimator_rows(preds, data, D, ["Ridge", "dMMSE"], M=2.0, eval_set="true")).to_csv(per_M, index=False)
    to_frame(estimator_rows(preds, data, D, ["Bayes"], M=np.inf, eval_set="true")).to_csv(bayes, index=False)
    own = read_table(bayes, "baselines", K)
    table = concat_tables([per_M, bayes], "baselines", K, problems=["P", "P"],
                          at_each_M=[None, ["2", "16", "inf"]])
    got = table[table["estimator"] == "Bayes"]
    assert sorted(set(got["M"])) == [2.0, 16.0, np.inf] and len(got) == 3 * len(own)
    for M in (2.0, 16.0, np.inf):
        pd.testing.assert_frame_equal(got[got["M"] == M].drop(columns=["M", "problem"]).reset_index(drop=True),
                                      own.drop(columns="M"), check_exact=True)
    # files given None keep their own M
    assert set(table.loc[table["estimator"] != "Bayes", "M"]) == {2.0}
    assert (table["problem"] == "P").all()
    with pytest.raises(ValueError):          # one entry per file
        concat_tables([per_M, bayes], "baselines", K, at_each_M=[None])
