"""Simulations from Python: murmur.run, murmur.sweep and Python-defined rules.

murmur.run drives the same C++ code as `murmur run` through the extension
module murmur._sim, which links LibTorch; it is imported on the first call of
run(), so `import murmur` alone never loads LibTorch. murmur.sweep drives the
`murmur sweep` command as a subprocess and reads its results. See
docs/python.md.
"""

import csv
import inspect
import json
import os
import shutil
import subprocess
import tempfile

__all__ = ["Run", "run", "sweep", "register_rule", "unregister_rule", "registered_rules"]

# "py:NAME" -> (adapter(inputs, weights, f), accepts_weights); handed to
# murmur._sim before every run.
_rules = {}


def _accepts(fn, name):
    """True when fn takes keyword argument `name` (or **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return any(p.kind == p.VAR_KEYWORD or (p.name == name and p.kind != p.POSITIONAL_ONLY)
               for p in params)


def register_rule(name, fn):
    """Registers fn as the aggregation rule "py:NAME" for simulations.

    name: "my_rule" or "py:my_rule"; a config selects it with
        robust.rule = "py:my_rule" (robust.pre and robust.f apply as for
        built-in rules; the rule takes no options of its own).
    fn: called as fn(inputs) with inputs a new (n, d) float32 numpy array,
        one row per input (finite rows only: the non-finite policy of
        include/murmur/robust/aggregator.h runs first); it must return d
        floats (a 1-D array-like). If fn has a keyword parameter `f`, it gets
        the number of Byzantine inputs to tolerate; if it has `weights`, it
        gets one float64 weight per input or None, and the rule counts as
        accepting weights (as the built-in mean does, so e.g. D-PSGD passes
        its mixing weights).

    murmur calls fn exactly where it would call a built-in rule, holding the
    GIL, so Python rules serialise aggregation (no two calls overlap). In the
    simulator aggregation happens on the event loop, in virtual-time event
    order, so a fn that is a pure function of its arguments keeps a seeded
    run byte-identical across repeats and thread counts. An exception in fn,
    or a result of the wrong shape, stops the run and is raised by
    murmur.run. Registering a name again replaces the rule.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, not {type(name).__name__}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    short = name[3:] if name.startswith("py:") else name
    if not short or ":" in short or not short.replace("_", "a").replace("-", "a").isalnum():
        raise ValueError(f"rule name {name!r} must be letters, digits, '_' or '-', "
                         f"e.g. 'my_rule'")
    pass_f = _accepts(fn, "f")
    pass_weights = _accepts(fn, "weights")

    def adapter(inputs, weights, f):
        kwargs = {}
        if pass_f:
            kwargs["f"] = f
        if pass_weights:
            kwargs["weights"] = weights
        return fn(inputs, **kwargs)

    _rules["py:" + short] = (adapter, pass_weights)
    return "py:" + short


def unregister_rule(name):
    """Removes a rule registered with register_rule; KeyError if there is none."""
    full = name if name.startswith("py:") else "py:" + name
    del _rules[full]


def registered_rules():
    """The names ("py:...") of the rules registered with register_rule, sorted."""
    return sorted(_rules)


def _toml_value(value, key):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else (
            "nan" if value != value else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, key) for v in value) + "]"
    try:  # numpy scalars
        return _toml_value(value.item(), key)
    except AttributeError:
        raise TypeError(f"config key {key}: {type(value).__name__} is not a TOML value "
                        f"(use bool, int, float, str or a list of them)") from None


def _flatten(config, prefix=""):
    """{"protocol": {"rounds": 3}} -> ["protocol.rounds=3"]."""
    out = []
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"config keys must be strings, not {type(key).__name__}")
        full = prefix + key
        if isinstance(value, dict):
            out.extend(_flatten(value, full + "."))
        else:
            out.append(f"{full}={_toml_value(value, full)}")
    return out


def _sets(set_):
    if set_ is None:
        return []
    if isinstance(set_, dict):
        return _flatten(set_)
    if isinstance(set_, str):
        return [set_]
    return [str(s) for s in set_]


def _config_source(config):
    """(path, text, sets) for config: None, a path, a TOML string or a dict."""
    if config is None:
        return "", "", []
    if isinstance(config, dict):
        return "", "", _flatten(config)
    if isinstance(config, os.PathLike):
        return os.fspath(config), "", []
    if isinstance(config, str):
        if "\n" in config or "=" in config:
            return "", config, []
        return config, "", []
    raise TypeError(f"config must be a path, a TOML string or a dict, not "
                    f"{type(config).__name__}")


def _positive_int(value, what, minimum):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum} or None, got {value!r}")
    return value


def _read_peers(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key != "role":
                row[key] = int(value)
    return rows


class Run:
    """A finished simulated run, as murmur.run returns it.

    metrics: one dict per evaluation row, exactly the objects of
        `murmur run --out`'s metrics.jsonl (round, time_s, acc_mean, acc_min,
        acc_max, loss_mean, train_loss, consensus_dist, bytes_sent, ...).
    summary: summary.json's dict: the last row's accuracy and traffic,
        acc_per_mb, virtual_time_s, rounds, finished, ended_by ("rounds",
        "target_acc", "time_budget", "byte_budget"; None unless finished),
        target_acc, round_to_target, time_to_target_s, bytes_to_target
        (None when there is no target or it was not reached), counters.
    peers: peers.csv as a list of dicts (peer, role, bytes_sent,
        bytes_received, msgs_sent, msgs_received), one per node.
    config: the fully resolved configuration as TOML (config.toml).
    out: the output directory, or None when run() was given none.
    wall_s, threads, num_params: wall time, compute threads, model size.
    """

    def __init__(self, metrics, summary, peers, config, out, wall_s, threads, num_params):
        self.metrics = metrics
        self.summary = summary
        self.peers = peers
        self.config = config
        self.out = out
        self.wall_s = wall_s
        self.threads = threads
        self.num_params = num_params

    def to_pandas(self):
        """The metrics as a pandas DataFrame (one row per evaluation).

        Raises ImportError when pandas is not installed (Debian: python3-pandas).
        """
        try:
            import pandas
        except ImportError:
            raise ImportError("Run.to_pandas needs pandas (Debian: apt install "
                              "python3-pandas); Run.metrics has the same rows as dicts") from None
        return pandas.DataFrame(self.metrics)

    def __repr__(self):
        last = self.metrics[-1] if self.metrics else {}
        return (f"<murmur.Run {len(self.metrics)} rows, round {last.get('round')}, "
                f"acc_mean {last.get('acc_mean')}>")


def run(config=None, set=None, seed=None, threads=None, out=None, progress=None):
    """Runs one simulation, as `murmur run` does, and returns a Run.

    config: None (the built-in quickstart), a path to a TOML file, a TOML
        document as a string (any string holding '=' or a newline), or a
        dict of sections ({"protocol": {"name": "fedavg", "rounds": 5}}).
        docs/config.md lists every key.
    set: overrides applied after config, as `--set`: "key=value", a list of
        them, or a dict ({"protocol.rounds": 3} or nested).
    seed, threads: as --seed and --threads (results do not depend on
        threads).
    out: a directory to write config.toml, metrics.jsonl, metrics.csv,
        peers.csv and summary.json into, byte-identical to `murmur run --out`.
    progress: called with each evaluation row (a dict, as in Run.metrics)
        as soon as it is measured, on the calling thread.

    The simulation runs with the GIL released. Ctrl-C (when run() is called
    from the main thread) stops it at the next round or row and raises
    KeyboardInterrupt; `out` then keeps the rows measured so far. An
    exception in `progress` or in a Python rule stops the run the same way
    and is re-raised. Errors: ValueError for a bad config (the CLI's
    message), FileNotFoundError for a missing config file or dataset,
    RuntimeError when another run is in progress in this process.

    The first call loads LibTorch (~0.4 s) and sets LibTorch's intra-op
    thread count to 1 (as `murmur run` does).
    """
    path, text, sets = _config_source(config)
    sets += _sets(set)
    seed = _positive_int(seed, "seed", 0)
    threads = _positive_int(threads, "threads", 0)
    if seed is not None:
        sets.append(f"seed={seed}")
    if threads is not None:
        sets.append(f"threads={threads}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, not {type(progress).__name__}")

    from . import _sim  # loads LibTorch

    _sim.set_rules([(name, adapter, weights) for name, (adapter, weights) in _rules.items()])
    metrics = []

    def on_row(line):
        row = json.loads(line)
        metrics.append(row)
        if progress is not None:
            progress(dict(row))

    scratch = None
    out_dir = os.fspath(out) if out is not None else None
    if out_dir is None:
        scratch = tempfile.mkdtemp(prefix="murmur-run-")
    try:
        result = _sim.run(path, text, sets, out_dir or scratch, on_row)
        where = out_dir or scratch
        summary_path = os.path.join(where, "summary.json")
        summary = {}
        if os.path.exists(summary_path):
            with open(summary_path) as f:
                summary = json.load(f)
        peers = _read_peers(os.path.join(where, "peers.csv"))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return Run(metrics, summary, peers, result["resolved_toml"], out_dir, result["wall_s"],
               result["threads"], result["num_params"])


def _murmur_binary():
    """The murmur CLI: $MURMUR_BIN, the build tree this package was built in, or PATH."""
    env = os.environ.get("MURMUR_BIN")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.normpath(os.path.join(here, "..", "..", "murmur"))  # build/python/murmur/
    if os.access(built, os.X_OK) and os.path.isfile(built):
        return built
    found = shutil.which("murmur")
    if found:
        return found
    raise FileNotFoundError("murmur.sweep needs the murmur command: build it "
                            "(cmake --build build --target murmur) or set MURMUR_BIN")


def _read_results(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = int(value)
            except ValueError:
                try:
                    row[key] = float(value)
                except ValueError:
                    pass
    return rows


def sweep(grid, out, jobs=None, quiet=True):
    """Runs a grid of simulations with `murmur sweep` and returns its results.

    grid: a grid file's path, or a dict in the grid file's form ({"base":
        "examples/fedavg.toml", "seeds": [1, 2], "set": {...}, "grid":
        {"protocol.topology": ["ring", "full"]}}); `murmur sweep --help`
        describes the keys. A relative "base" in a dict is taken from the
        current directory.
    out: the output directory (runs/<cell>-s<seed>/ per run, results.csv,
        results.md, heatmap.svg); an interrupted sweep resumes there.
    jobs: runs at a time (the grid's `jobs` otherwise).
    quiet: when False, the command's progress goes to this process's
        stdout/stderr.

    Runs the `murmur sweep` command as a subprocess (MURMUR_BIN, else the
    build tree's build/murmur, else murmur on PATH), so each run is its own
    process, as on the command line. Python rules (register_rule) are not
    available there; use run() in a loop for those. Returns results.csv as a
    list of dicts, one per cell. Raises ValueError for a bad grid (exit 2)
    and RuntimeError when some run failed (exit 1), with the command's
    output; KeyboardInterrupt stops the sweep (its finished runs are kept).
    """
    out = os.fspath(out)
    jobs = _positive_int(jobs, "jobs", 1)
    os.makedirs(out, exist_ok=True)
    if isinstance(grid, dict):
        grid = dict(grid)
        if "base" in grid and not os.path.isabs(grid["base"]):
            grid["base"] = os.path.abspath(grid["base"])
        grid_path = os.path.join(out, "grid.toml")
        with open(grid_path, "w") as f:
            f.write(_grid_toml(grid))
    elif isinstance(grid, (str, os.PathLike)):
        grid_path = os.fspath(grid)
        if not os.path.exists(grid_path):
            raise FileNotFoundError(f"grid file {grid_path!r} not found")
    else:
        raise TypeError(f"grid must be a path or a dict, not {type(grid).__name__}")
    command = [_murmur_binary(), "sweep", grid_path, "--out", out]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    pipe = subprocess.PIPE if quiet else None
    proc = subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True)
    try:
        stdout, stderr = proc.communicate()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    if proc.returncode == 2:
        raise ValueError(f"murmur sweep: bad grid: {(stderr or '').strip()}")
    if proc.returncode != 0:
        raise RuntimeError(f"murmur sweep failed (exit {proc.returncode}): "
                           f"{(stderr or '').strip()}")
    return _read_results(os.path.join(out, "results.csv"))


def _grid_toml(grid):
    """A grid dict as a grid file (top-level keys, then [set] and [grid])."""
    lines = []
    tables = {}
    for key, value in grid.items():
        if isinstance(value, dict):
            tables[key] = value
        else:
            lines.append(f"{key} = {_toml_value(value, key)}")
    for table, entries in tables.items():
        lines.append(f"[{table}]")
        for key, value in entries.items():
            lines.append(f"{json.dumps(key)} = {_toml_value(value, key)}")
    return "\n".join(lines) + "\n"
