"""The package itself: version, names, and that importing it stays light."""

import pathlib
import re
import subprocess
import sys

import murmur


def _project_version():
    """The one version: CMake's project(VERSION)."""
    cmake = (pathlib.Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text()
    return re.search(r"project\(murmur VERSION ([0-9.]+)", cmake).group(1)


def test_cli_prints_the_package_version(murmur_bin):
    cli = subprocess.run([str(murmur_bin), "--version"], capture_output=True, text=True, check=True)
    assert cli.stdout == f"murmur {murmur.__version__}\n"


def test_version_and_names():
    assert murmur.__version__ == _project_version()
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
