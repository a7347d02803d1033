rule task_pool:
    """The pool of M tasks for T_Pretrain (nested: pool M is a prefix of pool 2M)."""
    output:
        f"{OUT}/pools/pool_M{{M}}.npy",
    input:
        code=code("task_pool.py"),
    params:
        D=PROBLEM["D"],
        task_scale=PROBLEM["task_scale"],
        seed=config["seeds"]["pool"],
    log:
        f"{OUT}/logs/task_pool/M{{M}}.log",
    wildcard_constraints:
        M="[0-9]+",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/task_pool.py"


rule eval_set_true:
    """Fixed T_True evaluation sequences (fresh w ~ N(0, I) per sequence)."""
    output:
        f"{OUT}/eval/true.npz",
    input:
        code=code("eval_set.py"),
    params:
        problem=PROBLEM,
        n=config["eval"]["n_sequences"],
        seed=config["seeds"]["eval"],
    log:
        f"{OUT}/logs/eval_set/true.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/eval_set.py"


rule eval_set_pretrain:
    """Fixed T_Pretrain evaluation sequences (w drawn from the pool of M)."""
    output:
        f"{OUT}/eval/pretrain_M{{M}}.npz",
    input:
        pool=f"{OUT}/pools/pool_M{{M}}.npy",
        code=code("eval_set.py"),
    params:
        problem=PROBLEM,
        n=config["eval"]["n_sequences"],
        seed=config["seeds"]["eval"],
    log:
        f"{OUT}/logs/eval_set/pretrain_M{{M}}.log",
    wildcard_constraints:
        M="[0-9]+",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/eval_set.py"
