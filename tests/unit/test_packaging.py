"""The distribution's package list, license and public surface agree with the tree."""

from __future__ import annotations

import importlib
import tomllib

import streamfeed
from tests.linktree import ROOT, package_dirs


def test_every_folder_with_an_init_is_a_listed_package() -> None:
    """Listed packages are the folders with an `__init__.py`, plus folders of data only, which
    must each declare their files in package-data (setuptools ships the data of an unlisted
    folder only with a warning that it will stop)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for name, folder in package_dirs().items():
        for init in folder.rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(folder).parts]))
    assert found <= listed
    data_only = listed - found
    assert data_only <= set(config["package-data"])
    roots = package_dirs()
    for package in data_only:
        root = max((name for name in roots if package.startswith(name + ".")), key=len)
        folder = roots[root].joinpath(*package[len(root) + 1 :].split("."))
        assert any(folder.glob(pattern) for pattern in config["package-data"][package]), package


def test_the_license_file_matches_the_declared_license() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text()
    assert "Redistribution and use in source and binary forms" in text
    assert "Neither the name of the copyright holder" in text


def test_the_public_surface_resolves_and_is_what_all_names() -> None:
    for name in streamfeed.__all__:
        assert getattr(streamfeed, name) is not None, name
    assert streamfeed.Manager.__module__ == "streamfeed.app.manager"
    assert issubclass(streamfeed.ValidationError, ValueError)


def modules() -> list[str]:
    """Every module of the package, by its import name (the package-dir mapping applied)."""
    names = []
    for package, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            names.append(".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)]))
    return sorted(n for n in names if not n.endswith("__main__"))


def test_every_error_descends_from_streamfeed_error() -> None:
    errors = {
        value
        for name in modules()
        for value in vars(importlib.import_module(name)).values()
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == name
    }
    strays = sorted(e.__qualname__ for e in errors if not issubclass(e, streamfeed.StreamfeedError))
    assert len(errors) > 10 and not strays, strays
