"""deploy/k8s validates against Kubernetes' own schemas, and agrees with the settings it sets.

Kubernetes kinds go through kubernetes-validate (strict: no unknown fields).
KEDA's ScaledObject is a custom resource with no schema there, so its fields
are checked against the parts of KEDA's Kafka scaler it uses.
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


def load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


@pytest.mark.parametrize(
    "path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "keda-scaledobject.yaml")
)
def test_kubernetes_kinds_validate_strictly(path):
    resource = load(path)
    kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)


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
        assert metadata["topic"] in consumed
        assert int(metadata["lagThreshold"]) > 0


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
    selector = load("pdb.yaml")["spec"]["selector"]["matchLabels"]
    assert (
        selector.items()
        <= pod.get("labels", load("worker-deployment.yaml")["spec"]["template"]["metadata"]["labels"]).items()
    )
