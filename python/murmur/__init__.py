"""murmur: robust aggregation, compression kernels and simulations for Python.

The functions here call murmur's C++ library (the same code the simulator
and the peer runtime run) through the extension module ``murmur._murmur``,
which links only murmur's core, robust and compress modules -- not LibTorch
-- so ``import murmur`` is fast. See docs/python.md.

Arrays are read in place: a float32, C-contiguous numpy array or CPU torch
tensor is handed to the C++ kernels without a copy, and the GIL is released
while they run.

murmur.run and murmur.sweep run simulations (murmur.run through the second
extension murmur._sim, which links LibTorch and is imported on first use);
murmur.register_rule makes a Python function a rule for them.
"""

from ._murmur import (  # noqa: F401  (re-exported)
    Codec,
    EControl,
    Ef21,
    ErrorFeedback,
    EstimateReceiver,
    __version__,
    codec,
    pre_aggregator_names,
    rule_names,
)
from . import _murmur
from .group import Group  # noqa: F401  (re-exported; imports no torch)
from .simulation import (  # noqa: F401  (re-exported; imports no LibTorch)
    Run,
    register_rule,
    registered_rules,
    run,
    sweep,
    unregister_rule,
)

__all__ = [
    "__version__",
    "Group",
    "aggregate",
    "codec",
    "Codec",
    "ErrorFeedback",
    "Ef21",
    "EControl",
    "EstimateReceiver",
    "rule_names",
    "pre_aggregator_names",
    "run",
    "Run",
    "sweep",
    "register_rule",
    "unregister_rule",
    "registered_rules",
]


def _parse_stage(spec):
    """Splits a CLI stage spec "name:key=value:key=value" into (name, {key: value}).

    Only the syntax is handled here; names, option names and ranges are
    checked by the C++ factory (src/robust/factory.cc), which raises
    ValueError with the CLI's message.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a stage must be a string like 'clip:tau=5' or a (name, options) "
                        f"tuple, not {type(spec).__name__}")
    name, *parts = spec.split(":")
    if not name:
        raise ValueError(f"'{spec}' has no name; write e.g. clip:tau=5")
    options = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise ValueError(f"'{spec}': option '{part}' must look like key=value")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"'{spec}': option {key}='{value}' is not a finite number") from None
        if key in options:
            raise ValueError(f"'{spec}': option {key} is given twice")
        options[key] = number
    return name, options


def _options(name, options):
    out = {}
    for key, value in options.items():
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy scalars
            except (TypeError, ValueError):
                raise TypeError(f"{name}: option {key} must be a number, not "
                                f"{type(value).__name__}") from None
        out[key] = float(value)
    return out


def _stages(pre):
    if pre is None:
        return []
    if isinstance(pre, str):
        pre = [s for s in pre.split(",") if s] if pre else []
    stages = []
    for stage in pre:
        if isinstance(stage, tuple) and len(stage) == 2 and isinstance(stage[0], str):
            name, options = stage
            stages.append((name, _options(name, dict(options))))
        else:
            name, options = _parse_stage(stage)
            stages.append((name, options))
    return stages


def _torch_module(x):
    """Returns torch when x is a torch.Tensor, without importing torch otherwise."""
    module = type(x).__module__
    if module.startswith("torch"):
        import torch

        if isinstance(x, torch.Tensor):
            return torch
    return None


def _as_buffer(x, what):
    """A numpy view of a CPU float32 torch tensor (shares its memory); others unchanged."""
    torch = _torch_module(x)
    if torch is None:
        return x
    if x.device.type != "cpu":
        raise TypeError(f"{what} is a tensor on {x.device}; murmur reads CPU tensors "
                        f"(move it with .cpu())")
    if x.dtype != torch.float32:
        raise TypeError(f"{what} must hold float32 values, not {x.dtype}; convert with .float()")
    return x.detach().numpy()


def aggregate(rule, inputs, f=0, pre=(), weights=None, reference=None, threads=None,
              seed=1, **rule_options):
    """Aggregates input vectors with a robust rule, as `murmur aggregate` does.

    rule: a rule name (murmur.rule_names(): "mean", "median", "trimmed-mean",
        "krum", "multi-krum", "geometric-median", ...), optionally with
        options in the CLI's form ("multi-krum:m=3").
    inputs: a 2-D array (one row per input) or a list of 1-D arrays; numpy
        arrays or CPU torch tensors of float32, C-contiguous. Read in place.
    f: the number of Byzantine inputs to tolerate.
    pre: pre-aggregators applied in order before the rule: a CLI string
        ("clip:tau=5,nnm"), or a sequence of "name:key=value" strings or
        (name, {option: value}) tuples.
    weights: one non-negative weight per input (mean, geometric-median).
    reference: the aggregating peer's own vector (monna; centered-clipping's
        center).
    threads: threads for the kernels; None picks them from the input size
        (results do not depend on it).
    seed: seeds bucketing's random buckets (as the CLI's --seed).
    rule_options: the rule's options by name, e.g. m=3, tau=1.0.

    Returns a new 1-D float32 array of the inputs' dimension: a torch tensor
    when inputs are torch tensors, else a numpy array. Raises TypeError for a
    wrong type or dtype, ValueError for a bad shape, an unknown rule or
    option, or inputs the rule rejects (the C++ message, as the CLI prints).
    """
    if not isinstance(rule, str):
        raise TypeError(f"rule must be a string, not {type(rule).__name__}")
    rule_name, options = _parse_stage(rule)
    for key, value in _options(rule_name, rule_options).items():
        if key in options:
            raise ValueError(f"'{rule}': option {key} is given twice")
        options[key] = value
    if isinstance(f, bool) or not isinstance(f, int):
        raise TypeError(f"f must be an int, not {type(f).__name__}")
    if threads is None:
        threads = 0
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    torch = None
    if isinstance(inputs, (list, tuple)):
        if inputs:
            torch = _torch_module(inputs[0])
        buffers = [_as_buffer(x, f"inputs[{i}]") for i, x in enumerate(inputs)]
    else:
        torch = _torch_module(inputs)
        buffers = _as_buffer(inputs, "inputs")
    if reference is not None:
        reference = _as_buffer(reference, "reference")
    if weights is not None:
        weights = [float(w) for w in weights]
    out = _murmur.aggregate(rule_name, buffers, f, _stages(pre), options, weights, reference,
                            threads, seed)
    return torch.from_numpy(out) if torch is not None else out
