"""The documentation site builds in strict mode (a broken link, an anchor that is not there, a page
missing from nav or a failed include fails), its generated references cover every setting and
every HTTP endpoint, and the README stays a page a newcomer reads to the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from streamfeed.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly_with_references_generated_from_the_code(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    settings = (site / "reference" / "settings" / "index.html").read_text()
    for name in Settings.model_fields:
        assert f"STREAMFEED_{name.upper()}" in settings, name
    http = (site / "reference" / "http" / "index.html").read_text()
    for path in json.loads((ROOT / "pipeline" / "api" / "openapi.json").read_text())["paths"]:
        assert path.replace("{", "").split("}")[0] in http.replace("{", ""), path
    assert "The producer contract" in (site / "producers" / "index.html").read_text()


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "the README points into the docs"
    for link in links:
        assert (ROOT / link).exists(), link
