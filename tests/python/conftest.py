"""Shared setup for the murmur Python tests (run: python3 -m pytest tests/python).

Imports the package from build/python (the build tree) unless MURMUR_PYTHON_PATH
names another folder or the installed package is wanted (MURMUR_PYTHON_PATH="").
MURMUR_BIN picks the CLI the values are compared against (default build/murmur).
"""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_path = os.environ.get("MURMUR_PYTHON_PATH", str(ROOT / "build" / "python"))
if _path:
    sys.path.insert(0, _path)


@pytest.fixture(scope="session")
def murmur_bin():
    path = pathlib.Path(os.environ.get("MURMUR_BIN", ROOT / "build" / "murmur"))
    if not path.exists():
        pytest.skip(f"{path} not built (cmake --build build --target murmur)")
    return path
