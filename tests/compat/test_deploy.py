"""The deployment files, validated as far as this machine allows.

- Kubernetes manifests: strict schema validation (kubernetes-validate, the
  schemas of Kubernetes 1.33), plus what the issue asks of them: several
  replicas, a readiness probe, resource requests, a PodDisruptionBudget.
- The Sluice config embedded in the ConfigMap and the compose file passes
  `sluice check`.
- systemd unit: `systemd-analyze verify`, with ExecStart pointed at the
  built binary.
- Dockerfile and compose file: parsed and checked for the properties we
  promise (multi-stage, non-root, Redis and Postgres); no Docker engine
  runs here, so neither is built (docs/deployment.md says so).
"""

import copy
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from harness import BIN

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s/sluice.yaml"
ENV = {
    "OPENAI_API_KEY": "sk-test",
    "DATABASE_URL": "postgres://sluice:sluice@postgres:5432/sluice",
    "REDIS_URL": "redis://redis:6379",
    "SLUICE_ADMIN_KEY": "an-admin-key-of-enough-length",
}


def k8s_docs() -> list[dict]:
    return [d for d in yaml.safe_load_all(K8S.read_text()) if d]


def test_kubernetes_manifests_validate_strictly():
    docs = k8s_docs()
    for d in docs:
        kubernetes_validate.validate(d, "1.33.0", strict=True)
    # The validator bites: an unknown field fails.
    bad = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbee"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.33.0", strict=True)

    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} <= kinds
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["replicas"] >= 2
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] > 30, "longer than the drain deadline"
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]


def sluice_check(text: str):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        env = {**os.environ, **ENV}
        r = subprocess.run([BIN, "check", "--config", f.name], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        os.unlink(f.name)


def test_the_shipped_configs_pass_sluice_check():
    cm = next(d for d in k8s_docs() if d["kind"] == "ConfigMap")
    sluice_check(cm["data"]["sluice.yaml"])
    sluice_check((ROOT / "deploy/compose/sluice.yaml").read_text())


def test_compose_file_runs_two_instances_on_redis_and_postgres():
    c = yaml.safe_load((ROOT / "deploy/compose/docker-compose.yml").read_text())
    services = c["services"]
    assert {"postgres", "redis"} <= set(services)
    sluices = [s for n, s in services.items() if n.startswith("sluice")]
    assert len(sluices) >= 2
    for s in sluices:
        assert set(s["depends_on"]) == {"postgres", "redis"}
        assert "DATABASE_URL" in s["environment"] and "REDIS_URL" in s["environment"]
        # The admin port is published on loopback only.
        admin = [p for p in s["ports"] if p.endswith(":8081")]
        assert admin and all(p.startswith("127.0.0.1:") for p in admin)


def test_dockerfile_is_multi_stage_and_non_root():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) >= 2, stages
    assert "cargo build --release --locked" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0")), user
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "target" in ignored and ".git" in ignored


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies():
    unit = (ROOT / "deploy/systemd/sluice.service").read_text()
    unit = unit.replace("/usr/local/bin/sluice", str(Path(BIN).resolve()))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "sluice.service")
        path.write_text(unit)
        r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
        problems = [l for l in (r.stdout + r.stderr).splitlines() if "sluice.service" in l]
        assert r.returncode == 0 and not problems, r.stdout + r.stderr
