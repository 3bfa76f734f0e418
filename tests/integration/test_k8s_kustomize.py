"""Every overlay renders with kustomize itself and every rendered manifest validates strictly;
autoscaling is an HPA in dev and KEDA in prod, never both (before, `kubectl apply -f deploy/k8s`
applied the two together), and the image is the one deploy/image/build makes.

kustomize is a Go module: built once with the machine's Go into the stack's cache.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.go_tools import go_tool

pytestmark = pytest.mark.integration

OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays"
KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"


def kustomize() -> str:
    return go_tool("kustomize", KUSTOMIZE)


def rendered(overlay: str) -> list[dict]:
    out = subprocess.run([kustomize(), "build", str(OVERLAYS / overlay)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_overlay_renders_and_validates_strictly(overlay):
    docs = rendered(overlay)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for wanted in (
        ("Deployment", "streamfeed-worker"),
        ("Deployment", "streamfeed-api"),
        ("Job", "streamfeed-setup"),
    ):
        assert wanted in kinds
    autoscalers = {kind for kind, _ in kinds} & {"HorizontalPodAutoscaler", "ScaledObject"}
    assert autoscalers == ({"HorizontalPodAutoscaler"} if overlay == "dev" else {"ScaledObject"})
    for doc in docs:
        if doc["kind"] != "ScaledObject":  # a custom resource: tests/unit/test_k8s_manifests.py
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            assert container["image"] == "localhost/streamfeed:latest"
    assert (("Ingress", "streamfeed-api") in kinds) == (overlay == "prod")
    api = next(d for d in docs if d["metadata"]["name"] == "streamfeed-api" and d["kind"] == "Deployment")
    assert api["spec"]["replicas"] == (1 if overlay == "dev" else 2)
