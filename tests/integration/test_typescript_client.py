"""The TypeScript client (clients/typescript): generated from the API's OpenAPI document by
openapi-typescript and current with it, compiled by tsc in strict mode, and run against a live
`streamfeed serve`: an app backend publishes with its service key, the user reads with her token,
and the API's refusal comes back as a typed problem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from tests.services import free_port, start_api_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
KEY = "ts-client-signing-key-0123456789abcdef"
SERVICE = "ts-client-service-key-0123456789ab"


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        message = "npm (Node.js 20 or newer) is not installed: the TypeScript client cannot be built"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*command: str) -> str:
    done = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built_client():
    tool = npm()
    run(tool, "ci", "--no-audit", "--no-fund")
    committed = (CLIENT / "src" / "schema.d.ts").read_text()
    run(tool, "run", "generate")
    assert (CLIENT / "src" / "schema.d.ts").read_text() == committed, (
        "clients/typescript/src/schema.d.ts is behind pipeline/api/openapi.json: run `npm run generate` there"
    )
    run(tool, "exec", "--", "tsc", "-p", ".")
    run(tool, "exec", "--", "tsc", "-p", "tsconfig.examples.json")
    # The feed page's bundle (pipeline/api/static) is the client as it is now.
    bundle = json.loads((CLIENT / "package.json").read_text())["scripts"]["bundle"].split()
    shipped = ROOT / "pipeline" / "api" / "static" / "streamfeed-client.js"
    fresh = CLIENT / "build" / "streamfeed-client.js"
    run(tool, "exec", "--", *[f"--outfile={fresh}" if a.startswith("--outfile=") else a for a in bundle])
    assert fresh.read_text() == shipped.read_text(), (
        "pipeline/api/static/streamfeed-client.js is behind the client: "
        "run `npm run bundle` in clients/typescript"
    )
    return CLIENT / "build" / "examples" / "publish-and-read.js"


def test_the_typescript_client_publishes_and_reads_through_a_live_api(built_client, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "STREAMFEED_STORAGE": "memory",
        "STREAMFEED_API_PORT": str(port),
        "STREAMFEED_API_JWT_KEY": KEY,
        "STREAMFEED_API_SERVICE_KEY": SERVICE,
    }
    server = start_api_server(env, tmp_path / "serve.log")
    try:
        token = jwt.encode({"sub": "julie", "exp": int(time.time() + 600)}, KEY, algorithm="HS256")
        done = subprocess.run(
            ["node", str(built_client), f"http://127.0.0.1:{port}", token, SERVICE],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout)
    finally:
        server.terminate()
        server.wait(15)
    assert seen["followed"] == 202
    assert seen["published"]["accepted"] == 1
    (entry,) = seen["page"]["results"]
    assert (entry["actor"], entry["object"], entry["id"]) == (
        "thierry",
        "pin:42",
        seen["published"]["ids"][0],
    )
    assert seen["counts"] == {"unseen": 1, "unread": 1}
    assert seen["refused"]["status"] == 403 and "may not read" in seen["refused"]["problem"]["detail"]
