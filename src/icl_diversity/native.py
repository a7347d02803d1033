"""The fused C kernel for dMMSE (`_dmmse.c`), built with the system's C compiler at
first use and loaded with ctypes.

No Python package is needed for it, only a C compiler (`cc`, `gcc` or `clang`, or the
one named by $CC). Builds are cached under $ICL_DIVERSITY_CACHE, else
$XDG_CACHE_HOME/icl_diversity, else ~/.cache/icl_diversity, keyed by the source, the
flags, the compiler's version and the CPU (the kernel is built with -march=native, so
a cache shared by different machines holds one build per CPU). Where nothing builds,
`load` returns None and callers use the torch implementation, which computes the same
numbers more slowly.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("_dmmse.c")
REALS = {"float64": ("double", 0), "float32": ("float", 1)}
# Tried in order: OpenMP threads, then one thread; -march=native where the compiler has it.
FLAG_SETS = (
    ["-O3", "-march=native", "-fopenmp"],
    ["-O3", "-fopenmp"],
    ["-O3", "-march=native", "-fopenmp-simd"],
    ["-O3"],
)
log = logging.getLogger(__name__)
_lock = threading.Lock()
_loaded: dict[str, object] = {}


def cache_dir() -> Path:
    if os.environ.get("ICL_DIVERSITY_CACHE"):
        return Path(os.environ["ICL_DIVERSITY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "icl_diversity"


def _compilers() -> list[str]:
    names = [os.environ["CC"]] if os.environ.get("CC") else []
    names += ["cc", "gcc", "clang"]
    found = []
    for name in names:
        path = shutil.which(name)
        if path and path not in found:
            found.append(path)
    return found


def _cpu_identity() -> str:
    ident = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            ident += "".join(line for line in f if line.startswith(("flags", "model name")))
    except OSError:
        pass
    return ident


def _build(cc: str, flags: list[str], real: str, is_float: int) -> Path | None:
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    defines = [f"-DREAL={real}", f"-DREAL_IS_FLOAT={is_float}"]
    key = hashlib.sha256("\0".join([SOURCE.read_text(), cc, version, _cpu_identity(),
                                    *flags, *defines]).encode()).hexdigest()[:24]
    lib = cache_dir() / f"dmmse_{real}_{key}.so"
    if lib.exists():
        return lib
    try:
        lib.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
        os.close(fd)
    except OSError as e:
        log.warning("cannot write the dMMSE kernel to %s (%s); set ICL_DIVERSITY_CACHE",
                    lib.parent, e)
        return None
    cmd = [cc, *flags, *defines, "-std=c11", "-fPIC", "-shared", str(SOURCE), "-o", tmp, "-lm"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            log.debug("%s failed:\n%s", " ".join(cmd), res.stderr)
            return None
        os.replace(tmp, lib)        # atomic: concurrent jobs see a whole library or none
        return lib
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(dtype: str):
    """The kernel for dtype ("float64" or "float32") as a ctypes function, or None
    when no compiler builds it."""
    with _lock:
        if dtype in _loaded:
            return _loaded[dtype]
        real, is_float = REALS[dtype]
        fn = None
        for cc in _compilers():
            for flags in FLAG_SETS:
                lib = _build(cc, flags, real, is_float)
                if lib is None:
                    continue
                try:
                    fn = ctypes.CDLL(str(lib)).dmmse_sums
                except OSError:
                    continue
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 3 + [ctypes.c_double] \
                    + [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 2
                log.info("dMMSE kernel: %s %s (%s)", Path(cc).name, " ".join(flags), lib)
                break
            if fn is not None:
                break
        if fn is None:
            log.warning("the dMMSE C kernel could not be built (no C compiler: cc, gcc, "
                        "clang or $CC, or see above); using the slower torch implementation")
        _loaded[dtype] = fn
        return fn


def dmmse_sums(X: np.ndarray, Y: np.ndarray, WT: np.ndarray, floor: float, chunk: int,
               seq_block: int, threads: int):
    """Run the kernel: X (N, J, D), Y (N, J), WT (D, M), all C-contiguous of one float
    dtype; weights below e^floor (-80 <= floor < 0) of the largest are left out.
    Returns the sums (N, J, D + 1), float64, and the references (N, J)."""
    fn = load(X.dtype.name)
    if fn is None:
        raise RuntimeError("the dMMSE C kernel could not be built: no C compiler (cc, gcc, "
                           "clang or $CC) compiled src/icl_diversity/_dmmse.c; install one "
                           "or use the torch backend (eval.dmmse_backend: torch)")
    N, J, D = X.shape
    M = WT.shape[1]
    assert Y.shape == (N, J) and WT.shape == (D, M)
    assert all(a.dtype == X.dtype and a.flags.c_contiguous for a in (X, Y, WT))
    if not -80.0 <= floor < 0.0:
        raise ValueError(f"floor must be in [-80, 0), got {floor}")
    # the kernel keeps seq_block numbers on its stack and task offsets in int32
    if not (1 <= chunk <= 2 ** 24 and 1 <= seq_block <= 4096):
        raise ValueError(f"need 1 <= chunk <= 2^24 and 1 <= seq_block <= 4096, "
                         f"got {chunk} and {seq_block}")
    sums = np.empty((N, J, D + 1), dtype=np.float64)
    ref = np.empty((N, J), dtype=X.dtype)
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)   # noqa: E731
    if fn(N, J, D, M, ptr(X), ptr(Y), ptr(WT), floor, chunk, seq_block, threads, ptr(sums), ptr(ref)):
        raise MemoryError("the dMMSE C kernel could not allocate its work buffers")
    return sums, ref
