"""Damage and hostile input are stopped with an error that names the key or the file:
wrong-type strings in the config, markup in names that reach the report, tables that
lost rows or hold edited values, append-only logs changed under a running job, task
pools changed after they were written; and every figure's legend names only what it draws."""
import copy
import hashlib
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, copy_finished, copy_workflow, main_pdir, metrics_dir, snakemake
from test_config import with_change   # the smoke config with one value changed
from icl_diversity import config as cfg
from icl_diversity import metrics
from icl_diversity.io import checksum_path, load_npy, save_npy
from icl_diversity.runlog import AppendLog, LogMismatch
from icl_diversity.tables import TableError, concat_tables, promised_groups, read_table
from icl_diversity.tasks import task_pool

BASE = yaml.safe_load((ROOT / "config.yaml").read_text())
SMOKE_STUDY = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
SMOKE = copy.deepcopy(cfg.merge_study(BASE, SMOKE_STUDY))


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    """A copy of the workflow for dry runs (nothing here is ever run)."""
    return copy_workflow(tmp_path_factory.mktemp("hardening_workflow"))


def dry_run(wf, tmp_path, study: dict | None = None, config=()):
    """`snakemake -n` of the smoke study with `study` merged onto it (a study file of
    its own) and `config` given as --config values; outdir in tmp_path."""
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg.merge_study(SMOKE_STUDY, study or {}, "test"), width=1000))
    args = ["-n", "--configfile", str(path), "--config", f"outdir={tmp_path / 'out'}", *config]
    return snakemake(*args, cwd=wf, check=False)


def names_key(out: str, *path) -> bool:
    """Whether Snakemake's or config.py's message names the key at `path`."""
    return "".join(f"['{k}']" for k in path) in out or ".".join(path) in out


# ---- 1. a wrong-type string is refused by its key, not with a RecursionError

WRONG_TYPE_OVERRIDES = [
    ("train={lr: abc}", ("train", "lr")),
    ("train={threads: two}", ("train", "threads")),
    ("train={device: gpu}", ("train", "device")),
    ("train={compile: maybe}", ("train", "compile")),
    ("eval={curve_sequences: some}", ("eval", "curve_sequences")),
]
WRONG_TYPE_STUDIES = [
    ({"train": {"lr": "fast"}}, ("train", "lr")),
    ({"sweeps": {"batch": dict(SMOKE_STUDY["sweeps"]["batch"], vary="batchsize"),
                 "steps": SMOKE_STUDY["sweeps"]["steps"]}}, ("sweeps", "batch", "vary")),
]


@pytest.mark.parametrize("override,key", WRONG_TYPE_OVERRIDES)
def test_a_wrong_type_string_on_the_command_line_is_refused_by_its_key(workflow_copy, tmp_path, override, key):
    proc = dry_run(workflow_copy, tmp_path, config=[override])
    assert proc.returncode != 0 and "RecursionError" not in proc.stdout, proc.stdout[-3000:]
    assert names_key(proc.stdout, *key), proc.stdout[-3000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("study,key", WRONG_TYPE_STUDIES)
def test_a_wrong_type_string_in_a_study_file_is_refused_by_its_key(workflow_copy, tmp_path, study, key):
    proc = dry_run(workflow_copy, tmp_path, study)
    assert proc.returncode != 0 and "RecursionError" not in proc.stdout, proc.stdout[-3000:]
    assert names_key(proc.stdout, *key), proc.stdout[-3000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path,value", [
    (("train", "lr"), "abc"), (("train", "lr"), "fast"), (("train", "threads"), "two"),
    (("train", "device"), "gpu"), (("train", "compile"), "maybe"),
    (("eval", "curve_sequences"), "some"), (("sweeps", "batch", "vary"), "batchsize"),
])
def test_coerce_overrides_leaves_a_wrong_type_string_for_validation_to_name(path, value):
    typed = cfg.coerce_overrides(with_change(path, value))          # returns: no RecursionError
    node = typed
    for key in path:
        node = node[key]
    assert node == value
    with pytest.raises(cfg.ConfigError, match=re.escape(".".join(path))):
        cfg.validate(typed)


# ---- 2. names and paths that reach the report's captions cannot carry markup

SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize("group", [SCRIPT, "batch\n\n.. raw:: html\n\n   <script>alert(1)</script>"])
def test_a_sweep_group_name_with_markup_is_refused_by_its_key(workflow_copy, tmp_path, group):
    study = {"sweeps": {group: SMOKE_STUDY["sweeps"]["batch"], "steps": SMOKE_STUDY["sweeps"]["steps"]},
             "figures": {"fig2": group, "fig3": "steps"}}
    proc = dry_run(workflow_copy, tmp_path, study)
    assert proc.returncode != 0 and names_key(proc.stdout, "sweeps"), proc.stdout[-3000:]
    assert "does not match" in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("study,key", [
    ({"figures": {"fig2": SCRIPT}}, ("figures", "fig2")),
    ({"figures": {"fig6": ["batch", SCRIPT]}}, ("figures", "fig6")),
    ({"models": {SCRIPT: {"n_layer": 1, "n_embd": 16, "n_head": 2}}}, ("models",)),
    ({"store": "store\n\n.. raw:: html\n\n   <script>alert(1)</script>"}, ("store",)),
])
def test_other_names_that_reach_params_or_captions_are_refused_by_their_key(workflow_copy, tmp_path, study, key):
    proc = dry_run(workflow_copy, tmp_path, study)
    assert proc.returncode != 0 and names_key(proc.stdout, *key), proc.stdout[-3000:]
    assert "Error validating config file" in proc.stdout, proc.stdout[-3000:]   # by the schema
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("outdir", ["javascript:alert(1)", "out\n\n.. raw:: html\n\n   <script>alert(1)</script>",
                                    "out ``x <javascript:alert(1)>`_``"])
def test_an_outdir_the_captions_would_read_as_markup_is_refused(outdir):
    # the report prints outdir in its captions (workflow.rst, software.rst): a line break
    # starts a raw-HTML directive, a URI scheme becomes a link
    with pytest.raises(cfg.ConfigError, match="config key outdir"):
        cfg.validate(dict(copy.deepcopy(SMOKE), outdir=outdir))


def test_ordinary_folder_names_stay_allowed(tmp_path):
    for outdir in ("results", "results/2024-06 run", "../scratch/icl_v1.2", str(tmp_path / "out"), "résultats"):
        cfg.validate(dict(copy.deepcopy(SMOKE), outdir=outdir, store=""))
        cfg.validate(dict(copy.deepcopy(SMOKE), outdir="results", store=outdir))


# ---- 3. a per-run or per-M table holds every row its writer promises, and only its own

K, D, N, STEPS, EVAL_EVERY = 4, 3, 12, 10, 4
RUN = dict(setting="nano-b8-s10-wd0", model="nano", batch_size=8, steps=STEPS, weight_decay=0.0)


def run_files(tmp_path, seed=0, M="16", K=K):
    """A run's metrics.csv and curve.csv as pt_metrics writes them (metrics.run_tables on
    made-up predictions), and the run's identity as the rules pass it."""
    rng = np.random.default_rng(seed)
    sets = {name: {"xs": rng.standard_normal((N, K, D)), "ys": rng.standard_normal((N, K)),
                   "ws": rng.standard_normal((N, D))} for name in metrics.EVAL_SETS}
    steps = np.array(metrics.evaluation_steps(STEPS, EVAL_EVERY))
    pt = {"steps": steps, **{f"{s}_curve": rng.standard_normal((len(steps), N, K)) for s in sets},
          **{s: rng.standard_normal((N, K)) for s in sets}}
    ests = ["Ridge"] + (["dMMSE"] if M != "inf" else [])
    baselines = {f"{s}_{e}": rng.standard_normal((N, K)) for s in sets for e in ests}
    curve, final, _ = metrics.run_tables(pt, sets, baselines, D, 0.5, M=float(M), seed=seed,
                                         **RUN)
    folder = tmp_path / f"seed{seed}" / f"M{M}"
    folder.mkdir(parents=True)
    final.to_csv(folder / "metrics.csv", index=False)
    curve.to_csv(folder / "curve.csv", index=False)
    return folder / "metrics.csv", folder / "curve.csv", dict(RUN, seed=seed, M=M)


def head(path, n):
    """`head -n n` of a file, in place."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:n]))


@pytest.mark.parametrize("M", ["16", "inf"])
def test_the_promised_row_groups_are_what_the_writers_write(tmp_path, M):
    final, curve, identity = run_files(tmp_path, M=M)
    for path, kind in ((final, "pt_metrics"), (curve, "pt_curves")):
        table = read_table(path, kind, K, identity=identity, eval_every=EVAL_EVERY)
        columns, promised = promised_groups(kind, identity, EVAL_EVERY)
        assert {tuple(r) for r in table[columns].itertuples(index=False, name=None)} == promised
    # the baselines' writer (workflow/scripts/baselines.py) at M, and the Bayes estimator's
    rng = np.random.default_rng(1)
    data = {"xs": rng.standard_normal((N, K, D)), "ys": rng.standard_normal((N, K)),
            "ws": rng.standard_normal((N, D))}
    finite = M != "inf"
    preds = {e: rng.standard_normal((N, K)) for e in
             (["Ridge", "dMMSE", "smoothed_dMMSE"] if finite else ["Ridge"])}
    rows = []
    for s in metrics.EVAL_SETS:
        rows += metrics.estimator_rows(preds, data, D, ["Ridge", "dMMSE"] if finite else ["Ridge"],
                                       M=float(M), eval_set=s)
        if finite:
            rows += metrics.estimator_rows(preds, data, D, ["smoothed_dMMSE"], M=float(M), eval_set=s,
                                           smoothing_var=0.1)
    got = {(r["estimator"], r["eval_set"], r["metric"], r["target"]) for r in rows}
    assert got == set(metrics.baseline_keys(M))
    bayes = metrics.estimator_rows({"Bayes": preds["Ridge"], "Ridge": preds["Ridge"]}, data, D,
                                   ["Bayes"], M=np.inf, eval_set="true")
    assert {(r["estimator"], r["eval_set"], r["metric"], r["target"]) for r in bayes} == set(metrics.bayes_keys())


@pytest.mark.parametrize("kind", ["pt_metrics", "pt_curves"])
def test_a_run_table_cut_on_a_line_boundary_is_refused_by_name(tmp_path, kind):
    final, curve, identity = run_files(tmp_path)
    path = final if kind == "pt_metrics" else curve
    rows_per_group = K + 1 if kind == "pt_metrics" else 1
    n_rows = len(pd.read_csv(path))
    head(path, 1 + n_rows - 2 * rows_per_group)      # two whole groups gone: positions still 0..K
    read_table(path, kind, K)                      # what the reader alone could not tell
    with pytest.raises(TableError, match=re.escape(str(path)) + ".*2 of the .* row groups .* missing"):
        concat_tables([path], kind, K, identities=[identity], eval_every=EVAL_EVERY)


def test_head_64_of_a_smoke_run_metrics_table_is_refused(tmp_path):
    """The smoke study's case: K = 8, so `head -n 64` keeps 7 whole groups of 9 rows."""
    final, _, identity = run_files(tmp_path, K=8)
    head(final, 64)
    read_table(final, "pt_metrics", 8)
    with pytest.raises(TableError, match=re.escape(str(final)) + ".*missing"):
        concat_tables([final], "pt_metrics", 8, identities=[identity])


@pytest.mark.parametrize("column,value", [("value", "inf"), ("value", "-inf"), ("stderr", "inf"),
                                          ("gap_closed", "inf"), ("step", "inf")])
def test_a_non_finite_number_is_refused_naming_file_and_column(tmp_path, column, value):
    final, _, identity = run_files(tmp_path)
    t = pd.read_csv(final)
    t[column] = t[column].astype(object)
    t.loc[3, column] = value
    t.to_csv(final, index=False)
    with pytest.raises(TableError, match=re.escape(str(final)) + f": column {column} holds a non-finite"):
        read_table(final, "pt_metrics", K)


def test_nan_in_a_value_is_refused_naming_file_and_column(tmp_path):
    final, _, _ = run_files(tmp_path)
    t = pd.read_csv(final)
    t.loc[3, "value"] = np.nan
    t.to_csv(final, index=False)
    with pytest.raises(TableError, match=re.escape(str(final)) + ": column value"):
        read_table(final, "pt_metrics", K)


def test_inf_stays_allowed_where_it_is_M(tmp_path):
    final, curve, identity = run_files(tmp_path, M="inf")
    assert np.isinf(read_table(final, "pt_metrics", K, identity=identity)["M"]).all()


@pytest.mark.parametrize("column,value", [("seed", 5), ("M", 2.0), ("M", np.inf),
                                          ("setting", "nano-b16-s10-wd0"), ("steps", 20)])
def test_a_table_edited_to_another_run_is_refused(tmp_path, column, value):
    final, curve, identity = run_files(tmp_path)
    for path, kind in ((final, "pt_metrics"), (curve, "pt_curves")):
        t = pd.read_csv(path)
        t[column] = value                 # every row: the file looks like another run's
        t.to_csv(path, index=False)
        read_table(path, kind, K)         # sound on its own
        with pytest.raises(TableError, match=re.escape(str(path)) + f": column {column} holds"):
            concat_tables([path], kind, K, identities=[identity], eval_every=EVAL_EVERY)


def test_run_tables_are_checked_in_the_order_the_rules_list_them(tmp_path):
    files = [run_files(tmp_path, seed=s) for s in (0, 1)]
    paths, ids = [f[0] for f in files], [f[2] for f in files]
    assert len(concat_tables(paths, "pt_metrics", K, identities=ids)) == 2 * len(pd.read_csv(paths[0]))
    with pytest.raises(TableError, match="seed0.*column seed holds"):
        concat_tables(paths, "pt_metrics", K, identities=ids[::-1])


def test_a_baseline_table_missing_an_estimator_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    data = {"xs": rng.standard_normal((N, K, D)), "ys": rng.standard_normal((N, K)),
            "ws": rng.standard_normal((N, D))}
    preds = {e: rng.standard_normal((N, K)) for e in ("Ridge", "dMMSE", "smoothed_dMMSE")}
    rows = []
    for s in metrics.EVAL_SETS:
        rows += metrics.estimator_rows(preds, data, D, ["Ridge", "dMMSE"], M=16.0, eval_set=s)
    path = tmp_path / "metrics.csv"
    metrics.to_frame(rows).to_csv(path, index=False)     # no smoothed_dMMSE rows
    read_table(path, "baselines", K)
    with pytest.raises(TableError, match=re.escape(str(path)) + ".*smoothed_dMMSE"):
        concat_tables([path], "baselines", K, identities=[{"M": "16"}])


def test_an_interpolation_table_missing_a_run_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    a_grid = np.linspace(0, 1, 3)
    for a in a_grid:
        data = {"xs": rng.standard_normal((N, K, D)), "ys": rng.standard_normal((N, K)),
                "ws": rng.standard_normal((N, D))}
        preds = {e: rng.standard_normal((N, K)) for e in ("PT", "Ridge", "dMMSE")}
        labels = dict(M=16, eval_set="interpolation", a=float(a))
        rows += metrics.estimator_rows({k: preds[k] for k in ("Ridge", "dMMSE")}, data, D,
                                       setting="-", seed="-", stuck=False, **labels)
        for setting, seed in (("s8", 0), ("s16", 0)):
            rows += metrics.estimator_rows(preds, data, D, ["PT"], setting=setting, seed=seed,
                                           stuck=False, **labels)
    path = tmp_path / "M16.csv"
    table = metrics.to_frame(rows)
    table.to_csv(path, index=False)
    identity = dict(M="16", runs=[("s8", 0), ("s16", 0)], n_points=3)
    assert len(concat_tables([path], "interpolation", K, identities=[identity])) == len(table)
    table[table["setting"] != "s16"].to_csv(path, index=False)
    with pytest.raises(TableError, match=re.escape(str(path)) + ".*missing.*s16"):
        concat_tables([path], "interpolation", K, identities=[identity])


# ---- 4. an append-only log changed while its run trains fails the run, naming the log

# a tiny run: evaluation sets of 256 sequences, so one evaluation record is 8 + 2*256*8*4 bytes
TRAIN_PROBLEM = {"D": 3, "K": 8, "noise_var": 0.25}
TRAIN_POOL = task_pool(4, 3, seed=0)
EVAL_RECORD = 8 + 2 * 256 * 8 * 4


def tiny_run():
    """(model config, problem, pool, evaluation sets, train) of a tiny run."""
    import torch
    from icl_diversity.model import ModelConfig
    from icl_diversity.tasks import eval_set
    from icl_diversity.train import train
    torch.set_num_threads(1)
    model = ModelConfig(n_dims=3, n_points=8, n_layer=1, n_embd=16, n_head=2)
    sets = {"true": eval_set(3, 8, 0.25, 256, 1), "pretrain": eval_set(3, 8, 0.25, 256, 1, pool=TRAIN_POOL, M=4)}
    return model, TRAIN_PROBLEM, TRAIN_POOL, sets, train


def written_log(tmp_path, n=10):
    log = AppendLog(tmp_path / "run.loss", "<f4")
    log.start()
    log.append(np.arange(n, dtype=np.float32))
    return log


def test_a_log_reads_back_what_was_appended(tmp_path):
    log = written_log(tmp_path)
    log.append(np.array([7.5], np.float32))
    np.testing.assert_array_equal(log.read(), np.append(np.arange(10), 7.5).astype(np.float32))
    log.close()


@pytest.mark.parametrize("damage", ["truncate to 0", "nan", "grown", "removed"])
def test_a_log_changed_behind_its_writer_is_refused_by_name(tmp_path, damage):
    log = written_log(tmp_path)
    log.state()      # flushed: what another process would see
    path = tmp_path / "run.loss"
    if damage == "truncate to 0":
        with open(path, "r+b") as f:
            f.truncate(0)
    elif damage == "nan":
        with open(path, "r+b") as f:
            f.seek(4 * 3)
            f.write(np.float32("nan").tobytes())
    elif damage == "grown":
        with open(path, "ab") as f:
            f.write(np.float32(1).tobytes())
    else:
        path.unlink()
    with pytest.raises(LogMismatch, match=re.escape(str(path))):
        log.read()
    log.close()


def test_a_log_truncated_while_training_fails_the_run_and_keeps_its_checkpoint(tmp_path):
    from icl_diversity.train import TrainConfig, log_paths
    MODEL, PROBLEM, POOL, EVAL, train = tiny_run()

    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=10)
    ckpt = tmp_path / "rolling.pt"
    paths = log_paths(ckpt)

    def truncate_evals(step):
        if step == 25:
            with open(paths["evals"], "r+b") as f:
                f.truncate(0)
    with pytest.raises(LogMismatch, match=re.escape(str(paths["evals"])) + ".*rolling checkpoint"):
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False,
              on_step=truncate_evals)
    assert ckpt.exists()


def train_damaged(tmp_path, damage_at_25):
    """A run whose logs `damage_at_25(paths)` changes at step 25 (its checkpoint: step 20),
    the run uninterrupted, and the rolling checkpoint."""
    from icl_diversity.train import TrainConfig, log_paths
    MODEL, PROBLEM, POOL, EVAL, train = tiny_run()

    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=20)
    straight = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    ckpt = tmp_path / "rolling.pt"

    def damage(step):
        if step == 25:
            damage_at_25(log_paths(ckpt))
    with pytest.raises(LogMismatch) as error:
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False, on_step=damage)
    assert ckpt.exists()
    rerun = lambda: train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)  # noqa: E731
    return str(error.value), straight, rerun


def overwrite(path, offset, data: bytes):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_a_nan_written_into_the_loss_log_fails_the_run(tmp_path, caplog):
    # the checkpoint at step 20 made losses 0..19 durable: a NaN in them fails the run,
    # and a rerun finds the log unlike its checkpoint and trains again from step 0
    nan = np.float32("nan").tobytes()
    message, straight, rerun = train_damaged(tmp_path, lambda paths: overwrite(paths["loss"], 4 * 5, nan))
    assert "rolling.pt.loss differs from the records written to it" in message
    with caplog.at_level("WARNING", logger="icl_diversity"):
        again = rerun()
    assert "restarts from step 0" in caplog.text
    np.testing.assert_array_equal(straight["loss"], again["loss"])


def test_evaluations_changed_after_the_checkpoint_fail_the_run_and_a_rerun_resumes(tmp_path, caplog):
    # evaluation records 0 and 10 are the checkpoint's; the one of step 20 came after it
    nan = np.float32("nan").tobytes()
    message, straight, rerun = train_damaged(
        tmp_path, lambda paths: overwrite(paths["evals"], 2 * EVAL_RECORD + 8, nan))
    assert "rolling.pt.evals differs" in message
    with caplog.at_level("INFO", logger="icl_diversity"):
        again = rerun()
    assert "at step 20" in caplog.text and "restarts" not in caplog.text
    np.testing.assert_array_equal(straight["loss"], again["loss"])
    np.testing.assert_array_equal(straight["curve_preds"]["true"], again["curve_preds"]["true"])


# ---- 5. a task pool carries its sha256, and a changed pool is refused by name


def test_a_pool_is_written_with_its_sha256_in_the_format_sha256sum_reads(tmp_path):
    path = tmp_path / "pool_M16.npy"
    pool = task_pool(16, 3, seed=1)
    save_npy(path, pool, sha256=checksum_path(path))
    assert checksum_path(path) == tmp_path / "pool_M16.npy.sha256"
    assert checksum_path(path).read_text() == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  pool_M16.npy\n"
    np.testing.assert_array_equal(load_npy(path, sha256=checksum_path(path)), pool)


@pytest.mark.parametrize("where", ["header", "data"])
def test_a_flipped_byte_in_a_pool_is_refused_by_name(tmp_path, where):
    path = tmp_path / "pool_M16.npy"
    save_npy(path, task_pool(16, 3, seed=1), sha256=checksum_path(path))
    raw = bytearray(path.read_bytes())
    raw[-5 if where == "data" else 60] ^= 0x01    # data: still a valid .npy, other numbers
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=re.escape(str(path)) + " changed after it was written"):
        load_npy(path, sha256=checksum_path(path))


def test_a_pool_without_its_checksum_is_refused_by_name(tmp_path):
    path = tmp_path / "pool_M16.npy"
    save_npy(path, task_pool(16, 3, seed=1))
    with pytest.raises(FileNotFoundError, match=re.escape(str(checksum_path(path)))):
        load_npy(path, sha256=checksum_path(path))


# ---- 6. every legend names only what its figure draws, by display names

# names of the tables that are not what a reader should see in a legend
RAW_NAMES = ("smoothed_dMMSE", "batch_size", "weight_decay", "n_embd", "n_layer", "loss_per_dim",
             "delta_ridge", "delta_dmmse", "eval_set")


def has_data(artist) -> bool:
    import matplotlib
    if isinstance(artist, (tuple, list)):
        return any(has_data(a) for a in artist if a is not None)
    if isinstance(artist, matplotlib.lines.Line2D):
        x, y = (np.asarray(v, dtype=float) for v in artist.get_data())
        return x.size > 0 and y.size > 0 and bool((np.isfinite(x) & np.isfinite(y)).any())
    if isinstance(artist, matplotlib.collections.Collection):
        return len(artist.get_paths()) > 0
    return True


def legend_labels(fig) -> list[str]:
    """The legends' entries, a label wrapped over lines read as one line."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [" ".join(t.get_text().split()) for legend in legends for t in legend.get_texts()]


def drawn_labels(fig) -> set[str]:
    return {" ".join(a.get_label().split()) for ax in fig.axes
            for a in [*ax.lines, *ax.collections, *ax.containers, *ax.patches] if has_data(a)}


def assert_legends_name_what_is_drawn(fig):
    labels = legend_labels(fig)
    assert labels, "no legend"
    undrawn = [label for label in labels if label not in drawn_labels(fig)]
    assert not undrawn, f"legend entries with nothing drawn: {undrawn}"
    raw = [label for label in labels if label == "Bayes" or any(n in label for n in RAW_NAMES)]
    assert not raw, f"raw column names in the legend: {raw}"


def smoke_figure(outdir, config, name):
    """Figure `name` of the smoke study drawn again from its tables, as its script does."""
    from icl_diversity.config import Setting
    from icl_diversity import figures
    group = config["figures"][name]
    settings = [Setting.parse(s.name) for s in cfg.sweep_settings(config, group)]
    vary = config["sweeps"][group]["vary"]
    problem = cfg.main_problem(config).name
    K = config["problem"]["K"]
    tables = outdir / "tables"
    thresholds = read_table(tables / "thresholds.csv", "thresholds")
    thresholds = thresholds[thresholds["group"] == group]
    if name in ("fig2", "fig3"):
        return figures.fig_vs_M(read_table(tables / "pt_metrics.csv", "pt_metrics", K, problem),
                                read_table(tables / "baselines.csv", "baselines", K, problem),
                                thresholds, settings, vary)
    if name == "fig4":
        return figures.fig_dynamics(read_table(tables / "pt_curves.csv", "pt_curves", K, problem),
                                    settings, vary, thresholds)
    if name == "positions":
        return figures.fig_positions(read_table(tables / "pt_metrics.csv", "pt_metrics", K, problem),
                                     read_table(tables / "baselines.csv", "baselines", K, problem),
                                     settings, vary)
    if name == "fig5":
        return figures.fig_interpolation(read_table(tables / "interpolation.csv", "interpolation", K),
                                         thresholds, settings, vary)
    return figures.fig_connectivity(read_table(tables / "connectivity.csv", "connectivity"),
                                    read_table(tables / "barriers.csv", "barriers"),
                                    thresholds, settings, vary)


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig4", "positions", "fig5", "connectivity"])
def test_each_smoke_figures_legend_names_only_curves_it_draws(smoke_outdir, smoke_config, name):
    import matplotlib.pyplot as plt
    fig = smoke_figure(smoke_outdir, smoke_config, name)
    assert_legends_name_what_is_drawn(fig)
    plt.close(fig)


@pytest.mark.parametrize("name", ["connectivity", "fig4"])
def test_a_legend_of_many_long_entries_lies_outside_every_panel(smoke_outdir, smoke_config, name):
    """Inside the right-hand panel, the connectivity legend covered barriers and Fig 4's
    covered t* points."""
    import matplotlib.pyplot as plt
    fig = smoke_figure(smoke_outdir, smoke_config, name)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    box = fig.legends[0].get_window_extent(renderer)
    overlapping = [ax.get_title() for ax in fig.axes if ax.get_window_extent(renderer).overlaps(box)]
    assert not overlapping, overlapping
    plt.close(fig)


def test_fig5s_legend_names_dmmse_and_ridge_and_no_estimator_it_lacks(smoke_outdir, smoke_config):
    import matplotlib.pyplot as plt
    fig = smoke_figure(smoke_outdir, smoke_config, "fig5")
    labels = legend_labels(fig)
    assert {"dMMSE", "Ridge"} <= set(labels)
    assert not {"smoothed_dMMSE", "smoothed dMMSE", "Bayes", "Bayes (task prior)"} & set(labels)
    plt.close(fig)


def _axes_rows(problem, setting, value, Ms=(2.0, 4.0, 8.0, np.inf)):
    return [dict(estimator="PT", M=M, eval_set=es, metric=metric, target=target, position=0,
                 value=value, stderr=0.01, setting=setting, seed=0, step=10, gap_closed=1.0,
                 escape_step=5.0, stuck=False, problem=problem)
            for M in Ms for es in ("true", "pretrain")
            for metric, target in (("loss_per_dim", "noisy"), ("delta_ridge", "-"))]


def _axes_threshold(group, problem, model, log2, status="found", weight_decay=0.0):
    return dict(group=group, problem=problem, vary="batch_size", model=model, batch_size=np.nan,
                steps=10, weight_decay=weight_decay, seed="all", log2_threshold=log2,
                ci_low=log2 - 0.5, ci_high=log2 + 0.5, best_crossing=log2, status=status)


@pytest.mark.parametrize("found", [True, False])
def test_fig6s_legends_name_only_what_they_draw(found):
    import matplotlib.pyplot as plt
    from icl_diversity.figures_axes import fig_dimension
    problems = {"P4": {"D": 4, "K": 8, "noise_var": 0.125}, "P8": {"D": 8, "K": 16, "noise_var": 0.25}}
    settings = ["nano-b8-s10-wd0", "nano-b16-s10-wd0"]
    pt = pd.DataFrame([r for p in problems for s in settings for r in _axes_rows(p, s, 0.1)])
    base = pd.DataFrame([dict(estimator="dMMSE", M=M, eval_set="true", metric="delta_ridge", target="-",
                              position=0, value=0.3, stderr=0.0, problem=p)
                         for p in problems for M in (2.0, 4.0, 8.0)])
    thr = pd.DataFrame([_axes_threshold("dim", p, "nano", 2.0 + i, "found" if found else "none found")
                        for i, p in enumerate(problems)])
    groups = {"dim": dict(group="dim", vary="batch_size", settings=settings, seeds=[0],
                          problems=problems, M=["2", "4", "8", "inf"])}
    fig = fig_dimension(pt, base, thr, groups)
    assert_legends_name_what_is_drawn(fig)
    plt.close(fig)


def test_fig7s_legends_name_only_what_they_draw():
    import matplotlib.pyplot as plt
    from icl_diversity.figures_axes import fig_capacity
    models = {"small": {"n_embd": 64, "n_head": 2, "n_layer": 4},
              "small_w128": {"n_embd": 128, "n_head": 2, "n_layer": 4}}
    settings = [f"{m}-b{b}-s10-wd0" for m in models for b in (8, 16)]
    pt = pd.DataFrame([r for i, s in enumerate(settings) for r in _axes_rows("P", s, 0.1 * (i + 1))])
    thr = pd.DataFrame([_axes_threshold("width", "P", "small", 5.0),
                        _axes_threshold("width", "P", "small_w128", 6.0, "not significant")])
    axes = {"n_embd": dict(group="width", vary="batch_size", settings=settings, seeds=[0],
                           problems={"P": {}}, M=["2", "4", "8", "inf"], models=models)}
    fig = fig_capacity(pt, thr, axes)
    assert_legends_name_what_is_drawn(fig)
    assert "small, batch 8" in legend_labels(fig)
    plt.close(fig)


def test_a_baseline_without_rows_gets_no_legend_entry_in_any_figure_helper():
    import matplotlib.pyplot as plt
    from icl_diversity.figures import figure_legend
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1, 2], [1, 2], label="drawn")
    a.plot([], [], label="empty")
    a.plot([1, 2], [np.nan, np.nan], label="all NaN")
    b.plot([1], [3], label="other panel")
    figure_legend(fig, a)
    assert legend_labels(fig) == ["drawn", "other panel"]
    figure_legend(fig, b, inside="best")
    assert b.get_legend() is not None and [t.get_text() for t in b.get_legend().get_texts()] == ["other panel"]
    plt.close(fig)


# ---- 3 and 5 in the workflow: the rules hand each file's identity and checksum over


@pytest.fixture()
def finished_copy(smoke_workflow, tmp_path):
    """A copy of the finished smoke workflow (its store and the study's outputs)."""
    wf, _ = smoke_workflow
    copy = copy_finished(wf, tmp_path / "wf")
    return copy, cfg.load_config(copy / "studies" / "smoke.yaml", {"outdir": "out"})


def rerun(wf, target):
    """The job that makes `target`, forced to run again (nothing else)."""
    return snakemake("--cores", "1", "--configfile", "studies/smoke.yaml", "--config", "outdir=out",
                     "-f", str(target), cwd=wf, check=False)


def test_the_workflow_refuses_a_run_table_cut_to_64_lines(finished_copy):
    wf, config = finished_copy
    table = metrics_dir(config, "nano-b8-s60-wd0", 0, 16) / "metrics.csv"
    head(wf / table, 64)                     # K = 8: seven whole groups of nine rows
    proc = rerun(wf, "out/studies/smoke/tables/pt_metrics.csv")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"TableError: {table}: 1 of the 8 row groups" in proc.stdout, proc.stdout[-3000:]


def test_the_workflow_refuses_a_run_table_edited_to_another_seed(finished_copy):
    wf, config = finished_copy
    table = metrics_dir(config, "nano-b8-s60-wd0", 0, 16) / "curve.csv"
    t = pd.read_csv(wf / table)
    t.assign(seed=5).to_csv(wf / table, index=False)
    proc = rerun(wf, "out/studies/smoke/tables/pt_curves.csv")
    assert proc.returncode != 0 and f"{table}: column seed holds 5" in proc.stdout, proc.stdout[-3000:]


def test_every_pool_has_its_sha256_and_a_flipped_byte_stops_its_readers(finished_copy):
    wf, config = finished_copy
    pools = wf / main_pdir(config) / "pools"
    for M in ("2", "16"):
        path = pools / f"pool_M{M}.npy"
        assert checksum_path(path).read_text() == \
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  pool_M{M}.npy\n"
    raw = bytearray((pools / "pool_M16.npy").read_bytes())
    raw[-3] ^= 0x01
    (pools / "pool_M16.npy").write_bytes(bytes(raw))
    proc = rerun(wf, main_pdir(config) / "eval" / "pretrain_M16.npz")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"{main_pdir(config) / 'pools' / 'pool_M16.npy'} changed after it was written" in proc.stdout


def test_every_script_that_loads_a_pool_checks_its_sha256():
    for script in (ROOT / "workflow" / "scripts").glob("*.py"):
        for call in re.findall(r"load_npy\([^\n]*", script.read_text()):
            assert "sha256=" in call, f"{script.name}: {call}"
