"""deploy/k8s validates against Kubernetes' own schemas, and agrees with the settings it sets.

Kubernetes kinds go through kubernetes-validate (strict: no unknown fields).
KEDA's ScaledObject is a custom resource with no schema there, so its fields
are checked against the parts of KEDA's Kafka scaler it uses. The overlays
are rendered by kustomize itself in tests/integration/test_k8s_kustomize.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import validate

from streamfeed.kafka.topics import TopicNames
from streamfeed.settings import Settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
#: Where each manifest lives (base, or the overlay that adds it).
PLACES = {p.name: p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}


def load(name: str) -> dict:
    return yaml.safe_load(PLACES[name].read_text())


@pytest.mark.parametrize("path", sorted(n for n in PLACES if n != "keda-scaledobject.yaml"))
def test_kubernetes_kinds_validate_strictly(path):
    resource = load(path)
    kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", ["worker-deployment.yaml", "api-deployment.yaml", "setup-job.yaml"])
def test_every_pod_runs_unprivileged_on_a_read_only_root(name):
    pod = load(name)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (deploy/Containerfile)
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert container["image"] == "streamfeed"  # set by the kustomization's images


def test_an_invalid_manifest_is_refused():
    deployment = load("worker-deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


KEDA_KAFKA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"const": "kafka"},
                            "metadata": {
                                "type": "object",
                                "required": ["bootstrapServers", "consumerGroup", "topic", "lagThreshold"],
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def configured() -> Settings:
    values = {}
    for key, value in load("configmap.yaml")["data"].items():
        values[key.removeprefix("STREAMFEED_").lower()] = (
            json.loads(value) if value.startswith("[") else value
        )
    return Settings(**values)


def test_the_configmap_is_valid_settings_and_the_scalers_match_it():
    settings = configured()  # raises if a value is not a valid setting
    assert settings.metrics_port == 9100 and settings.metrics_host == "0.0.0.0"
    scaled = load("keda-scaledobject.yaml")
    validate(scaled, KEDA_KAFKA)
    deployment = load("worker-deployment.yaml")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaled["spec"]["maxReplicaCount"] == settings.partitions  # more would hold nothing
    assert load("hpa.yaml")["spec"]["maxReplicas"] == settings.partitions
    names = TopicNames.from_settings(settings)
    consumed = set(names.consumed)
    for trigger in scaled["spec"]["triggers"]:
        metadata = trigger["metadata"]
        assert metadata["consumerGroup"] == settings.app_id
        assert metadata["bootstrapServers"] == settings.kafka_bootstrap
        assert int(metadata["lagThreshold"]) > 0
    assert {t["metadata"]["topic"] for t in scaled["spec"]["triggers"]} == consumed  # every one


def test_the_workers_read_the_settings_and_probe_the_metrics_port():
    settings = configured()
    pod = load("worker-deployment.yaml")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {load("configmap.yaml")["metadata"]["name"], load("secret.yaml")["metadata"]["name"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == settings.metrics_port
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] > settings.worker_session_timeout
    selector = load("worker-pdb.yaml")["spec"]["selector"]["matchLabels"]
    assert (
        selector.items()
        <= pod.get("labels", load("worker-deployment.yaml")["spec"]["template"]["metadata"]["labels"]).items()
    )


def test_the_ingress_reaches_the_api_service_and_passes_realtime_streams_through():
    ingress = load("api-ingress.yaml")
    service = load("api-service.yaml")
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    annotations = ingress["metadata"]["annotations"]
    # Server-Sent Events: no buffering, and idle streams outlive the API's keep-alives.
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 300
