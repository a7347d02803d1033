"""The per-run lock in the store: one holder at a time, named when refused; stale locks
of dead holders are cleared."""
import json
import os
import subprocess
import sys
import time

import pytest

from icl_diversity.io import HOST
from icl_diversity.runlock import RunLock, RunLocked, run_lock


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    """The pid of a process of this host that lives through the test."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


def write_lock(path, host, pid, age=0.0):
    path.write_text(json.dumps({"host": host, "pid": pid, "token": "theirs", "started": "then"}))
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def test_a_held_lock_refuses_a_second_holder_until_released(tmp_path):
    path = tmp_path / "train.lock"
    first, second = RunLock(path), RunLock(path)
    assert first.try_acquire()
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not second.try_acquire()
    first.release()
    assert not path.exists()
    assert second.try_acquire()
    second.release()


def test_a_lock_of_a_dead_process_on_this_host_is_cleared(tmp_path):
    path = tmp_path / "train.lock"
    write_lock(path, HOST, dead_pid())
    said = []
    lock = RunLock(path)
    assert lock.try_acquire(log=said.append)
    assert "no longer runs" in said[0]
    assert json.loads(path.read_text())["token"] == lock.token
    lock.release()


def test_a_lock_of_a_live_process_is_kept_until_its_heartbeat_is_stale(tmp_path, live_pid):
    path = tmp_path / "train.lock"
    write_lock(path, HOST, live_pid)
    assert not RunLock(path, stale_after=300).try_acquire()
    # another host's holder cannot be checked by pid: only its heartbeat tells
    write_lock(path, "elsewhere", live_pid, age=10)
    assert not RunLock(path, stale_after=300).try_acquire()
    write_lock(path, "elsewhere", live_pid, age=400)
    said = []
    lock = RunLock(path, stale_after=300)
    assert lock.try_acquire(log=said.append)
    assert "heartbeat" in said[0]
    lock.release()


def test_the_heartbeat_keeps_a_held_lock_fresh(tmp_path):
    path = tmp_path / "train.lock"
    lock = RunLock(path, heartbeat=0.1)
    assert lock.try_acquire()
    t = time.time() - 1000
    os.utime(path, (t, t))
    time.sleep(0.5)
    assert time.time() - path.stat().st_mtime < 5
    lock.release()


def test_waiting_for_a_held_run_times_out_naming_the_holder(tmp_path, live_pid):
    path = tmp_path / "train.lock"
    write_lock(path, HOST, live_pid)
    said = []
    with pytest.raises(RunLocked, match=f"host {HOST}, pid {live_pid}"):
        with run_lock(path, wait=0.5, poll=0.1, log=said.append):
            pass
    assert said and f"pid {live_pid}" in said[0]
    assert json.loads(path.read_text())["pid"] == live_pid     # left as it was


def test_a_waiter_takes_the_run_once_the_holder_releases_it(tmp_path):
    path = tmp_path / "train.lock"
    holder = RunLock(path)
    assert holder.try_acquire()
    proc = subprocess.Popen([sys.executable, "-c", f"""
import sys; sys.path.insert(0, {str(os.path.join(os.path.dirname(__file__), '..', 'src'))!r})
from icl_diversity.runlock import run_lock
with run_lock({str(path)!r}, wait=30, poll=0.1, log=print):
    print("held")
"""], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert proc.poll() is None          # still waiting
    holder.release()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "being trained by" in out and out.strip().endswith("held")
    assert not path.exists()
