"""Go programs the tests and benchmarks drive (vegeta, kustomize, promtool): found on PATH, or
built once with the machine's Go from the module proxy into the stack's cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def go_tool(name: str, module: str, timeout: float = 1800) -> str:
    """The path of binary `name`, installed from `module` (path@version) if not found."""
    found = shutil.which(name)
    if found:
        return found
    cache = Path(os.environ.get("STREAMFEED_CACHE", Path.home() / ".cache" / "streamfeed")) / "tools"
    binary = cache / name
    if not binary.exists():
        go = shutil.which("go") or "/usr/local/go/bin/go"
        print(f"building {module} into {cache} ...", flush=True)
        env = {**os.environ, "GOBIN": str(cache)}
        subprocess.run([go, "install", module], check=True, env=env, timeout=timeout)
    return str(binary)
