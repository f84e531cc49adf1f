"""One version: the binding's `__version__` (written once, in sdrt/__init__.py), what
pyproject.toml builds the wheel with (read from there, never written twice), Cargo.toml's
version of libsdrt, and the loaded library's `sdrt_version`."""

from __future__ import annotations

import os
import re

from conftest import PKG, ROOT

import sdrt


def cargo_version() -> str:
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version = "([^"]+)"$', package, re.M).group(1)


def test_the_binding_the_library_and_cargo_agree():
    assert sdrt.__version__ == cargo_version()
    assert sdrt.version() == cargo_version()


def test_pyproject_reads_the_version_from_the_package():
    with open(os.path.join(PKG, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.M), "a second version in pyproject.toml"
    assert re.search(r'^dynamic = \[.*"version".*\]', project, re.M), project
    dynamic = text.split("[tool.setuptools.dynamic]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^version = \{ attr = "sdrt.__version__" \}', dynamic, re.M), dynamic
    # Written once in the package: a literal setuptools reads without importing it.
    with open(os.path.join(PKG, "sdrt", "__init__.py"), encoding="utf-8") as f:
        assert len(re.findall(r'^__version__ = "([^"]+)"$', f.read(), re.M)) == 1
