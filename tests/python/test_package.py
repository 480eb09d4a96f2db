"""The package itself: version, names, and that importing it stays light."""

import pathlib
import subprocess
import sys

import murmur


def test_version_and_names():
    assert murmur.__version__ == "0.1.0"
    assert {"median", "krum", "trimmed-mean", "geometric-median"} <= set(murmur.rule_names())
    assert {"clip", "nnm", "bucketing", "arc"} <= set(murmur.pre_aggregator_names())
    assert set(murmur.__all__) <= set(dir(murmur))


def test_import_loads_neither_torch_nor_libtorch():
    code = ("import sys, murmur; "
            "maps = open('/proc/self/maps').read(); "
            "print('torch' in sys.modules, 'libtorch' in maps, 'libc10' in maps)")
    path = pathlib.Path(murmur.__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(path)}, cwd="/")
    assert out.stdout.split() == ["False", "False", "False"]
