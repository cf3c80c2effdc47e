#!/usr/bin/env python3
"""Checks MetaFrazo's Kubernetes manifests (compose/kubernetes/check.sh runs this in its venv):

1. renders every kustomization under compose/kubernetes offline (render.py), and compares the
   result with `kubectl kustomize` where kubectl is installed;
2. validates every rendered object, strictly (an unknown field fails), against the Kubernetes
   JSON schemas bundled in the kubernetes-validate package, for the oldest and the newest
   Kubernetes we support;
3. checks what no schema knows: every environment variable set is one the services read (the
   `env = "…"` and `.env("…")` declarations in their Rust sources), every Secret key used is in
   secret.example.env, each container runs a binary of the workspace that
   compose/Dockerfile builds into the image, probes and scrape annotations name the admin port the
   ConfigMap gives the service, Services, PDBs and HPAs select what is rendered, and the pipeline
   never has more replicas than the raw topic has partitions.
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import yaml

import render

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The oldest Kubernetes we support (autoscaling/v2, policy/v1 and Job TTLs are all GA there)
# and the newest the installed kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]
SERVICE_SOURCES = ["libs", "ingress", "pipeline", "onboarding", "dashboards", "warehouse"]
# Read by the services but declared nowhere as `env = "…"`: RUST_LOG (tracing's filter).
READ_ELSEWHERE = {"RUST_LOG"}
ENV_DECLARATION = re.compile(r'(?:\benv\s*=\s*|\.env\(\s*)"([A-Z][A-Z0-9_]*)"')


class Failures(list):
    def add(self, where, message):
        self.append(f"{where}: {message}")


def kustomizations():
    return sorted(p.parent for p in HERE.rglob("kustomization.yaml"))


def variables_the_services_read():
    names = set()
    for top in SERVICE_SOURCES:
        for path in (ROOT / top).rglob("*.rs"):
            # Only what the programs read: tests and benchmarks set variables for children.
            parts = set(path.relative_to(ROOT).parts)
            if parts & {"tests", "benches", "test-kit"} or path.name == "tests.rs":
                continue
            names.update(ENV_DECLARATION.findall(path.read_text(encoding="utf-8")))
    return names


def workspace_binaries():
    names = set()
    for top in SERVICE_SOURCES:
        for main in (ROOT / top).rglob("src/main.rs"):
            names.add(main.parent.parent.name)
        for binary in (ROOT / top).rglob("src/bin/*.rs"):
            names.add(binary.stem)
    return names


def dockerfile_binaries():
    text = (ROOT / "compose" / "Dockerfile").read_text(encoding="utf-8")
    return set(re.findall(r"target/release/([A-Za-z0-9_-]+)", text))


def secret_example_keys():
    keys = set()
    for line in (HERE / "base" / "secret.example.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.add(line.split("=", 1)[0])
    return keys


def kubectl_objects(directory):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    out = subprocess.run([kubectl, "kustomize", str(directory)], check=True,
                         capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc is not None]


def by_identity(objects):
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
            for o in objects}


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def check_objects(where, objects, failures):
    known_env = variables_the_services_read() | READ_ELSEWHERE
    secret_keys = secret_example_keys()
    binaries = workspace_binaries()
    shipped = dockerfile_binaries()
    ids = by_identity(objects)
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects
                  if o["kind"] == "ConfigMap"}
    for (kind, _, name), obj in ids.items():
        here = f"{where} {kind}/{name}"
        if kind == "Secret":
            failures.add(here, "a Secret in the manifests; secrets go in with kubectl create "
                               "secret (secret.example.env)")
        if kind == "ConfigMap":
            for key in obj.get("data", {}):
                if key not in known_env:
                    failures.add(here, f"{key} is read by no service")
        pods = list(render._pod_specs(obj))
        for pod in pods:
            labels = obj["spec"]["template"].get("metadata", {}).get("labels", {})
            annotations = obj["spec"]["template"].get("metadata", {}).get("annotations", {})
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                command = (container.get("command") or [""])[0]
                if command not in binaries:
                    failures.add(here, f"runs {command!r}, not a binary of the workspace")
                elif command not in shipped:
                    failures.add(here, f"runs {command}, which compose/Dockerfile does not "
                                 "build into the image")
                config = {}
                for source in container.get("envFrom", []):
                    ref = source.get("configMapRef")
                    if ref and ref["name"] not in configmaps:
                        failures.add(here, f"envFrom names ConfigMap {ref['name']}, not rendered")
                    elif ref:
                        config.update(configmaps[ref["name"]])
                    if "secretRef" in source:
                        failures.add(here, "envFrom a whole Secret: name each key (secretKeyRef), "
                                           "so this check sees them")
                for env in container.get("env", []):
                    if env["name"] not in known_env:
                        failures.add(here, f"sets {env['name']}, which no service reads")
                    secret = env.get("valueFrom", {}).get("secretKeyRef")
                    if secret and secret["key"] not in secret_keys:
                        failures.add(here, f"Secret key {secret['key']} is not in "
                                           "base/secret.example.env")
                ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
                component = command.upper()
                admin = config.get(f"{component}_ADMIN_ADDR")
                if admin is not None:
                    if ports.get("admin") != port_of(admin):
                        failures.add(here, f"port admin is {ports.get('admin')}, "
                                           f"{component}_ADMIN_ADDR says {admin}")
                    if annotations.get("prometheus.io/port") != str(port_of(admin)):
                        failures.add(here, "prometheus.io/port is not the admin port")
                    for probe, path in (("livenessProbe", "/healthz"),
                                        ("readinessProbe", "/readyz")):
                        get = container.get(probe, {}).get("httpGet", {})
                        if get.get("port") != "admin" or get.get("path") != path:
                            failures.add(here, f"{probe} is not {path} on the admin port")
                public = config.get(f"{component}_ADDR")
                if public is not None and ports.get("http") != port_of(public):
                    failures.add(here, f"port http is {ports.get('http')}, "
                                       f"{component}_ADDR says {public}")
            if kind == "Deployment":
                if obj["spec"]["selector"]["matchLabels"].items() - labels.items():
                    failures.add(here, "its selector does not select its own pods")
        if kind == "Deployment" and name == "pipeline":
            partitions = int(configmaps.get("metafrazo-config", {}).get("KAFKA_RAW_PARTITIONS", 8))
            replicas = obj["spec"].get("replicas", 1)
            if replicas > partitions:
                failures.add(here, f"{replicas} replicas, more than the raw topic's {partitions} "
                                   "partitions (KAFKA_RAW_PARTITIONS): the rest would read nothing")
        if kind in ("Service", "PodDisruptionBudget"):
            selector = obj["spec"].get("selector") or {}
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            selected = [o for o in objects if o["kind"] == "Deployment" and not
                        (selector.items() - o["spec"]["template"]["metadata"]["labels"].items())]
            if len(selected) != 1:
                failures.add(here, f"selects {len(selected)} Deployments' pods, not one")
        if kind == "HorizontalPodAutoscaler":
            target = obj["spec"]["scaleTargetRef"]
            if (target["kind"], obj["metadata"].get("namespace", ""), target["name"]) not in ids:
                failures.add(here, f"scales {target['kind']}/{target['name']}, not rendered")
            elif "replicas" in ids[(target["kind"], obj["metadata"].get("namespace", ""),
                                    target["name"])]["spec"]:
                failures.add(here, "its Deployment sets replicas, which every apply would reset")
            if obj["spec"].get("minReplicas", 1) > obj["spec"]["maxReplicas"]:
                failures.add(here, "minReplicas above maxReplicas")


def main():
    failures = Failures()
    directories = [pathlib.Path(arg).resolve() for arg in sys.argv[1:]] or kustomizations()
    for directory in directories:
        where = str(directory.relative_to(ROOT))
        try:
            objects = render.render(directory)
        except (render.RenderError, OSError, yaml.YAMLError) as err:
            failures.add(where, f"does not render: {err}")
            continue
        before = len(failures)
        theirs = kubectl_objects(directory)
        if theirs is None:
            print(f"check.py: {where}: kubectl not installed, render.py not compared with it")
        else:
            ours, kubectls = by_identity(objects), by_identity(theirs)
            for key in sorted(set(ours) | set(kubectls)):
                if ours.get(key) != kubectls.get(key):
                    failures.add(where, f"render.py and kubectl kustomize differ on {key}: "
                                        f"{json.dumps(ours.get(key))} != "
                                        f"{json.dumps(kubectls.get(key))}")
        for obj in objects:
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as err:
                    path = ".".join(str(p) for p in err.path) or "(top)"
                    failures.add(f"{where} {obj.get('kind')}/{obj.get('metadata', {}).get('name')}",
                                 f"Kubernetes {version}: {path}: {err.message}")
                except (kubernetes_validate.SchemaNotFoundError,
                        kubernetes_validate.InvalidSchemaError):
                    failures.add(f"{where} {obj.get('kind')}/{obj.get('metadata', {}).get('name')}",
                                 f"Kubernetes {version} has no {obj.get('apiVersion')} "
                                 f"{obj.get('kind')}")
        # What the schemas cannot tell, on objects they accepted (the checks trust their shape).
        if len(failures) == before:
            check_objects(where, objects, failures)
        print(f"check.py: {where}: {len(objects)} objects rendered and checked")
    for failure in failures:
        print(f"check.py: FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
