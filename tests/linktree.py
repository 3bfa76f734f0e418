"""The `streamfeed` package as one folder of symlinks, for tools that cannot follow package-dir.

setuptools maps `streamfeed` onto pipeline/ and its subpackages schemas/,
storage/ and consumers/ onto the top-level folders (pyproject.toml). Python
imports through the installed finder; import-linter (grimp) and mypy walk
the file system from one package folder. This builds that folder from the
mapping itself, so the tools check exactly the files that ship.

    python -m tests.linktree [DEST]   # prints the folder to put on PYTHONPATH / MYPYPATH
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """The package-dir table of pyproject.toml: package name -> folder."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    return {name: root / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def build_link_tree(dest: Path, root: Path = ROOT) -> Path:
    """Lay the packages out under dest as Python sees them; returns dest."""
    mapping = package_dirs(root)
    for name, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        target = dest.joinpath(*name.split("."))
        if name.count(".") == 0:
            target.mkdir(parents=True, exist_ok=True)
            for child in folder.iterdir():
                if child.name != "__pycache__":
                    (target / child.name).symlink_to(child)
        else:
            target.symlink_to(folder, target_is_directory=True)
    return dest


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="streamfeed-tree-"))
    print(build_link_tree(where))
