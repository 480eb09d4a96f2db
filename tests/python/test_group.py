"""murmur.Group (python/murmur/group.py over include/murmur/group/process_group.h):
exact all-reduce and broadcast results over three groups in one process, and
the DiLoCo fortunes example with a worker killed by kill -9 and restarted
(examples/python/diloco_fortunes_launch.py, shortened)."""
import importlib.util
import pathlib
import threading

import numpy as np
import torch

import murmur

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _groups(n, **kw):
    first = murmur.Group(0, n, **kw)
    groups = [first] + [None] * (n - 1)

    def make(i):
        groups[i] = murmur.Group(i, n, peers=[first.listen_address], **kw)
    threads = [threading.Thread(target=make, args=(i,)) for i in range(1, n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return groups


def _on_all(groups, fn):
    out = [None] * len(groups)
    errors = []

    def run(i):
        try:
            out[i] = fn(i, groups[i])
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(groups))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return out


def test_all_reduce_broadcast_and_outer_step_are_exact():
    groups = _groups(3, timeout=5.0)

    def work(i, g):
        x = np.arange(4, dtype=np.float32) + 10 * i            # sums: 30, 33, 36, 39
        r1 = g.all_reduce(x)
        t = torch.full((3,), float(i + 1))                       # mean of 1, 2, 3 = 2
        g.all_reduce(t, op="mean")
        s = {"w": torch.full((2,), float(i)), "b": torch.full((1,), 5.0 + i)}
        g.broadcast_state(s, root=2)                             # everyone gets rank 2's
        m = [torch.full((2,), 7.0 if i != 1 else -1.0)]
        g.broadcast_state(m)                                     # the majority's (7)
        p = [torch.zeros(2)]
        g.diloco_init(p)
        p[0] += torch.tensor([1.0, 2.0]) * (i + 1)               # local = -(pseudo-gradient)
        rep = g.diloco_outer_step(p, lr=1.0, momentum=0.0)
        return x, t, s, m, p, r1, rep
    out = _on_all(groups, work)
    for x, t, s, m, p, r1, rep in out:
        assert x.tolist() == [30, 33, 36, 39]
        assert t.tolist() == [2.0, 2.0, 2.0]
        assert s["w"].tolist() == [2.0, 2.0] and s["b"].tolist() == [7.0]
        assert m[0].tolist() == [7.0, 7.0]
        # lr 1, no momentum: global = mean of the locals = (1, 2) x 2.
        assert p[0].tolist() == [2.0, 4.0]
        assert r1["members"] == [0, 1, 2]
        assert rep["weight"] == 3.0 and rep["hashes_agree"] and rep["step"] == 1
    assert len({o[6]["digest"] for o in out}) == 1


def test_diloco_survives_kill_and_restart(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "launch", ROOT / "examples" / "python" / "diloco_fortunes_launch.py")
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)

    class Args:
        world, kill_rank, kill_at, outer_steps = 3, 2, 1, 80
        restart_delay, port_base, deadline, workdir = 0.1, 29800, 90, str(tmp_path)
    extra = ["--dim", "32", "--layers", "1", "--heads", "2", "--inner-steps", "3",
             "--batch", "8", "--context", "16", "--chars", "60000"]
    lines = []
    result = launch.run(Args, extra, log=lines.append)
    s = result["summaries"]
    assert launch.verdict(result, 3, 2) == [], "\n".join(lines[-40:])
    # Spelled out: survivors finished, every final state equal (the restarted
    # worker's too), it resynced and then contributed, and the loss fell.
    assert all(code == 0 for code in result["codes"].values())
    assert len({v["params_hash"] for v in s.values()}) == 1
    assert s[2]["resynced"] and s[2]["contributed_steps"] >= 1
    assert all(v["final_loss"] < v["start_loss"] for v in s.values())
