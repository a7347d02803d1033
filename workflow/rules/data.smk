rule task_pool:
    """The pool of M tasks for T_Pretrain (nested: pool M is a prefix of pool 2M), and
    its sha256, which every rule that reads the pool checks it against."""
    output:
        pool=f"{PDIR}/pools/pool_M{{M}}.npy",
        sha256=f"{PDIR}/pools/pool_M{{M}}.npy.sha256",
    input:
        code=code("task_pool.py"),
    params:
        D=problem_value("D"),
        task_scale=problem_value("task_scale"),
        prior=problem_value("prior"),
        seed=config["seeds"]["pool"],
    log:
        f"{PDIR}/logs/task_pool/M{{M}}.log",
    wildcard_constraints:
        M="[0-9]+",
    group:
        "data"
    priority: DATA_PRIORITY
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/task_pool.py"


rule eval_set_true:
    """Fixed T_True evaluation sequences (fresh w from the task prior per sequence)."""
    output:
        f"{PDIR}/eval/true.npz",
    input:
        code=code("eval_set.py"),
    params:
        problem=problem_params,
        n=config["eval"]["n_sequences"],
        seed=config["seeds"]["eval"],
    log:
        f"{PDIR}/logs/eval_set/true.log",
    group:
        "data"
    priority: DATA_PRIORITY
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/eval_set.py"


rule eval_set_pretrain:
    """Fixed T_Pretrain evaluation sequences (w drawn from the pool of M)."""
    output:
        f"{PDIR}/eval/pretrain_M{{M}}.npz",
    input:
        pool=f"{PDIR}/pools/pool_M{{M}}.npy",
        pool_sha256=f"{PDIR}/pools/pool_M{{M}}.npy.sha256",
        code=code("eval_set.py"),
    params:
        problem=problem_params,
        n=config["eval"]["n_sequences"],
        seed=config["seeds"]["eval"],
    log:
        f"{PDIR}/logs/eval_set/pretrain_M{{M}}.log",
    wildcard_constraints:
        M="[0-9]+",
    group:
        "data"
    priority: DATA_PRIORITY
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/eval_set.py"
