"""murmur.run, murmur.sweep and Python-defined rules (murmur._sim).

Values are compared with `murmur run --out` on the same config: metrics.jsonl,
peers.csv and summary.json must be byte-identical.
"""

import copy
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

import murmur

# A run of a few seconds: 4 peers, D-PSGD on a ring, a small MLP on
# synthetic data; rows at rounds 0, 2 and 4.
TINY = {
    "data": {"dataset": "synthetic", "synthetic_train": 800, "synthetic_test": 200},
    "peers": 4,
    "protocol": {"rounds": 4},
    "eval": {"every": 2},
    "model": {"hidden": [16]},
}
TINY_SETS = ["data.dataset=synthetic", "data.synthetic_train=800", "data.synthetic_test=200",
             "peers=4", "protocol.rounds=4", "eval.every=2", "model.hidden=[16]"]


def _cli_run(murmur_bin, out, sets, extra=()):
    args = [str(murmur_bin), "run", "--quiet", "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args + list(extra), check=True, capture_output=True)


def _jsonl(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()]


@pytest.fixture(autouse=True)
def _no_rules_left():
    yield
    for name in murmur.registered_rules():
        murmur.unregister_rule(name)


def test_run_equals_cli_byte_for_byte(tmp_path, murmur_bin):
    _cli_run(murmur_bin, tmp_path / "cli", TINY_SETS, ["--seed", "3"])
    run = murmur.run(TINY, seed=3, out=tmp_path / "py")
    for name in ["metrics.jsonl", "metrics.csv", "peers.csv", "summary.json", "config.toml"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert run.metrics == _jsonl(tmp_path / "cli" / "metrics.jsonl")
    assert [row["round"] for row in run.metrics] == [0, 2, 4]
    assert run.summary == json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert run.summary["finished"] is True and run.summary["rounds"] == 4
    assert [p["peer"] for p in run.peers] == [0, 1, 2, 3]
    assert sum(p["bytes_sent"] for p in run.peers) == run.metrics[-1]["bytes_sent"]
    assert run.config == (tmp_path / "cli" / "config.toml").read_text()
    assert run.out == str(tmp_path / "py")
    assert run.num_params > 0 and run.threads >= 1


def test_budget_ends_the_run_as_the_cli_does(tmp_path, murmur_bin):
    # 4 ring peers send 8 models of 50,937 bytes a round: 600,000 bytes are
    # crossed during round 2, whose row ends the run.
    sets = TINY_SETS + ["protocol.rounds=6", "sim.budget_bytes=600000", "eval.target_acc=1.0"]
    _cli_run(murmur_bin, tmp_path / "cli", sets)
    run = murmur.run(TINY, set=sets[len(TINY_SETS):], out=tmp_path / "py")
    for name in ["metrics.jsonl", "summary.json", "config.toml"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert [row["round"] for row in run.metrics] == [0, 2]
    assert run.summary["finished"] is True
    assert run.summary["ended_by"] == "byte_budget"
    assert run.summary["target_acc"] == 1.0 and run.summary["round_to_target"] is None
    assert run.summary["bytes_sent"] == 2 * 407496


def test_config_as_path_string_or_dict_gives_the_same_run(tmp_path):
    toml = ('peers = 4\n[data]\ndataset = "synthetic"\nsynthetic_train = 800\n'
            'synthetic_test = 200\n[protocol]\nrounds = 4\n[eval]\nevery = 2\n'
            '[model]\nhidden = [16]\n')
    path = tmp_path / "tiny.toml"
    path.write_text(toml)
    from_dict = murmur.run(TINY, threads=1)
    assert murmur.run(toml, threads=1).metrics == from_dict.metrics
    assert murmur.run(str(path), threads=1).metrics == from_dict.metrics
    assert murmur.run(path, threads=2).metrics == from_dict.metrics  # threads do not matter
    assert murmur.run(None, set=TINY_SETS, threads=1).metrics == from_dict.metrics
    assert murmur.run(TINY, set={"protocol": {"rounds": 2}}).metrics[-1]["round"] == 2
    assert murmur.run(TINY, set="protocol.rounds=2").metrics[-1]["round"] == 2
    assert murmur.run(TINY).out is None


def test_progress_sees_every_row_in_order():
    seen = []
    run = murmur.run(TINY, progress=seen.append)
    assert seen == run.metrics


def test_to_pandas():
    pandas = pytest.importorskip("pandas")
    run = murmur.run(TINY)
    frame = run.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame["round"]) == [0, 2, 4]
    assert list(frame["acc_mean"]) == [row["acc_mean"] for row in run.metrics]


def test_bad_configs_raise_with_the_cli_message(tmp_path):
    with pytest.raises(ValueError, match="protocol.rounds"):
        murmur.run(TINY, set="protocol.rounds=-1")
    with pytest.raises(ValueError, match="no_such_key"):
        murmur.run(TINY, set="no_such_key=1")
    with pytest.raises(FileNotFoundError):
        murmur.run(str(tmp_path / "missing.toml"))
    with pytest.raises(TypeError):
        murmur.run(42)
    with pytest.raises(ValueError):
        murmur.run(TINY, seed=-1)
    with pytest.raises(TypeError):
        murmur.run(TINY, progress=3)


def test_exception_in_progress_stops_the_run_and_is_raised():
    calls = []

    def progress(row):
        calls.append(row["round"])
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        murmur.run(TINY, progress=progress)
    assert calls == [0]


def test_ctrl_c_stops_the_run_cleanly(tmp_path):
    # A separate interpreter: SIGINT arrives while the simulation runs with
    # the GIL released; the run stops, keeps its rows, raises KeyboardInterrupt.
    code = f"""
import os, signal, sys, threading, murmur
rows = []
def progress(row):
    rows.append(row["round"])
    if row["round"] == 2:
        os.kill(os.getpid(), signal.SIGINT)
try:
    murmur.run({TINY!r}, set={{"protocol.rounds": 200}}, out=sys.argv[1], progress=progress)
except KeyboardInterrupt:
    print("interrupted", rows)
"""
    out = tmp_path / "run"
    path = pathlib.Path(murmur.__file__).parent.parent
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted [0, 2]"
    assert [row["round"] for row in _jsonl(out / "metrics.jsonl")] == [0, 2]
    assert json.loads((out / "summary.json").read_text())["finished"] is False


def test_a_second_run_while_one_is_in_progress_raises():
    errors = []
    started = []

    def progress(row):
        started.append(row)
        if row["round"] == 0:
            try:
                murmur.run(TINY)
            except RuntimeError as e:
                errors.append(str(e))

    murmur.run(TINY, progress=progress)
    assert started
    assert errors and "another run is in progress" in errors[0]


def _weighted_mean(inputs, weights=None):
    """The built-in mean's arithmetic: float64 sums in input order, then one division."""
    if weights is None:
        weights = [1.0] * len(inputs)
    acc = np.zeros(inputs.shape[1])
    total = 0.0
    for row, w in zip(inputs, weights):
        acc += float(w) * row.astype(np.float64)
        total += float(w)
    return (acc / total).astype(np.float32)


def _robust(rule, **extra):
    return {**copy.deepcopy(TINY), "robust": {"rule": rule, **extra}}


def test_python_mean_equals_builtin_mean():
    murmur.register_rule("mean", _weighted_mean)
    # clip with an unreachable tau is the identity; it routes the built-in
    # mean through the same robust combiner as the Python rule. On a full
    # graph of 4 the mixing weights are 1/4: w * x is exact, so the kernel's
    # fused multiply-adds (its x86-64-v3/v4 clones) round as numpy does.
    builtin_config = _robust("mean", pre=["clip"], clip_tau=1e30)
    builtin_config["protocol"] = {**TINY["protocol"], "topology": "full"}
    python_config = {**builtin_config, "robust": {**builtin_config["robust"], "rule": "py:mean"}}
    builtin = murmur.run(builtin_config, threads=1)
    python = murmur.run(python_config, threads=1)
    assert python.metrics == builtin.metrics


def test_python_median_equals_builtin_median():
    murmur.register_rule("median", lambda x: np.median(x, axis=0))
    assert murmur.run(_robust("py:median")).metrics == murmur.run(_robust("median")).metrics


def test_python_rule_is_deterministic_across_runs_and_threads(tmp_path):
    def trimmed(inputs, f):
        s = np.sort(inputs, axis=0)
        return s[f:len(s) - f].mean(axis=0, dtype=np.float64).astype(np.float32)

    murmur.register_rule("trimmed", trimmed)
    config = _robust("py:trimmed", f=1)
    config["peers"] = 6
    config["protocol"]["topology"] = "full"
    outs = []
    for i, threads in enumerate([1, 1, 2]):
        murmur.run(config, threads=threads, out=tmp_path / str(i))
        outs.append((tmp_path / str(i) / "metrics.jsonl").read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_python_rule_gets_f_and_weights_when_it_asks():
    seen = []

    def rule(inputs, f, weights):
        seen.append((inputs.dtype, inputs.shape, f, None if weights is None else len(weights)))
        return inputs.mean(axis=0)

    murmur.register_rule("py:spy", rule)
    murmur.run(_robust("py:spy", f=1))
    assert seen
    # D-PSGD on a ring: own model and two neighbours, with mixing weights.
    assert set(seen) == {(np.dtype(np.float32), (3, seen[0][1][1]), 1, 3)}


def test_python_rule_errors_stop_the_run():
    murmur.register_rule("boom", lambda x: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        murmur.run(_robust("py:boom"))
    murmur.register_rule("short", lambda x: x[0, :3])
    with pytest.raises(ValueError, match=r"py:short: returned an array of shape \(3,\)"):
        murmur.run(_robust("py:short"))
    murmur.register_rule("text", lambda x: "no")
    with pytest.raises(ValueError, match="py:text"):
        murmur.run(_robust("py:text"))


def test_unknown_python_rule_and_bad_registration():
    with pytest.raises(ValueError, match="robust.rule"):
        murmur.run(_robust("py:never_registered"))
    with pytest.raises(TypeError):
        murmur.register_rule("x", 3)
    with pytest.raises(ValueError):
        murmur.register_rule("bad name", np.mean)
    with pytest.raises(TypeError):
        murmur.register_rule(3, np.mean)
    assert murmur.register_rule("ok", np.mean) == "py:ok"
    assert murmur.registered_rules() == ["py:ok"]
    murmur.unregister_rule("ok")
    assert murmur.registered_rules() == []
    with pytest.raises(KeyError):
        murmur.unregister_rule("ok")


def test_sweep_runs_the_cli_and_returns_its_results(tmp_path, murmur_bin, monkeypatch):
    monkeypatch.setenv("MURMUR_BIN", str(murmur_bin))
    fixed = {"data.dataset": "synthetic", "data.synthetic_train": 800,
             "data.synthetic_test": 200, "peers": 4, "protocol.rounds": 4, "eval.every": 2,
             "model.hidden": [16], "threads": 1}
    grid = {"seeds": [1], "jobs": 2, "set": fixed,
            "grid": {"protocol.topology": ["ring", "full"]}}
    results = murmur.sweep(grid, out=tmp_path / "sweep")
    assert len(results) == 2
    assert (tmp_path / "sweep" / "results.csv").exists()
    runs = sorted(p.name for p in (tmp_path / "sweep" / "runs").iterdir())
    assert len(runs) == 2
    for name in runs:
        metrics = _jsonl(tmp_path / "sweep" / "runs" / name / "metrics.jsonl")
        assert [row["round"] for row in metrics] == [0, 2, 4]
    with pytest.raises(ValueError, match="bad grid"):
        murmur.sweep({"grid": {"no.such.key": [1, 2]}}, out=tmp_path / "bad")
    with pytest.raises(FileNotFoundError):
        murmur.sweep(tmp_path / "missing.toml", out=tmp_path / "x")
