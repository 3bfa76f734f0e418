"""Build hook of the docs site: reference pages generated from the code at every build, so they
can never fall behind it: every setting from the Settings class, every HTTP endpoint from the
API's OpenAPI document (pipeline/api/openapi.json, itself checked against the app by a test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

from streamfeed.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "reference/settings.md", content=settings_page()))
    files.append(File.generated(config, "reference/http.md", content=http_page()))
    return files


def settings_page() -> str:

    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = (
            "(none)"
            if default is None
            else f"`{json.dumps(default) if isinstance(default, list | dict) else default}`"
        )
        about = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `STREAMFEED_{name.upper()}` | {shown} | {about} |")
    return "\n".join(
        [
            "# All settings",
            "",
            "Every setting is an environment variable (or a line of a `.env` file), read by every",
            "component. Generated from `pipeline/settings.py` at each build of this site.",
            "",
            "| variable | default | what it does |",
            "| --- | --- | --- |",
            *rows,
            "",
        ]
    )


def http_page() -> str:
    document = json.loads((ROOT / "pipeline" / "api" / "openapi.json").read_text())
    lines = [
        "# HTTP endpoints",
        "",
        "Generated from the API's OpenAPI document (`pipeline/api/openapi.json`, also served at",
        "`/openapi.json` and browsable at `/docs` on a running `streamfeed serve`).",
        "",
    ]
    for path, methods in sorted(document["paths"].items()):
        for method, operation in methods.items():
            lines += [f"## `{method.upper()} {path}`", ""]
            if operation.get("description") or operation.get("summary"):
                lines += [(operation.get("description") or operation["summary"]).strip(), ""]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | required | type |", "| --- | --- | --- | --- |"]
                for parameter in parameters:
                    kind = parameter.get("schema", {}).get("type", "")
                    required = parameter.get("required", False)
                    lines.append(f"| `{parameter['name']}` | {parameter['in']} | {required} | {kind} |")
                lines.append("")
            answers = ", ".join(
                f"`{code}` {answer.get('description', '')}"
                for code, answer in operation.get("responses", {}).items()
            )
            lines += [f"Answers: {answers}", ""]
    return "\n".join(lines)
