#!/usr/bin/env python3
"""Renders a kustomization offline, as `kubectl kustomize DIR` would, for the fields MetaFrazo's
manifests use and no others: `resources` (files and kustomization directories), `namespace`,
`images`, `replicas` and `patches` (strategic-merge patches from a file or inline). Anything else
in a kustomization.yaml is refused, naming the field, rather than rendered wrong.

Why: CI reaches no network but the package registries, and no renderer comes from one (Debian
bookworm's kubernetes-client is 1.20, whose embedded kustomize is 2.0.3). check.sh compares this
renderer's output with `kubectl kustomize` wherever kubectl is installed.

    python3 compose/kubernetes/render.py compose/kubernetes/overlays/production
"""

import copy
import pathlib
import sys

import yaml

KNOWN_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
# Kinds without a namespace, among those a deployment like ours could hold.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                  "StorageClass", "CustomResourceDefinition", "PersistentVolume"}
# The merge keys of the lists a patch of ours may touch (Kubernetes' patchMergeKey); any other
# list is replaced whole, as a strategic-merge patch does for lists without one.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name"}


class RenderError(Exception):
    pass


def _load_all(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def _kustomization(directory):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = directory / name
        if path.is_file():
            docs = _load_all(path)
            if len(docs) != 1 or not isinstance(docs[0], dict):
                raise RenderError(f"{path}: one mapping expected")
            unknown = set(docs[0]) - KNOWN_FIELDS
            if unknown:
                raise RenderError(
                    f"{path}: {', '.join(sorted(unknown))} not supported by render.py "
                    "(extend it, and check.sh's comparison with kubectl will tell if it renders "
                    "as kustomize does)")
            return path, docs[0]
    raise RenderError(f"{directory}: no kustomization.yaml")


def _pod_specs(obj):
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        yield template["spec"]


def _split_image(image):
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    name, tag = image, ""
    # A colon after the last slash separates the tag (one before it is a registry's port).
    if ":" in image.rsplit("/", 1)[-1]:
        name, tag = image.rsplit(":", 1)
    return name, tag, digest


def _set_images(objects, images, where):
    for entry in images:
        if "name" not in entry:
            raise RenderError(f"{where}: an images entry without a name")
        extra = set(entry) - {"name", "newName", "newTag", "digest"}
        if extra:
            raise RenderError(f"{where}: images field {', '.join(sorted(extra))} not supported")
        for obj in objects:
            for pod in _pod_specs(obj):
                for container in pod.get("initContainers", []) + pod.get("containers", []):
                    name, tag, digest = _split_image(container.get("image", ""))
                    if name != entry["name"]:
                        continue
                    name = entry.get("newName", name)
                    if "newTag" in entry:
                        tag = str(entry["newTag"])
                    if "digest" in entry:
                        digest, tag = entry["digest"], ""
                    image = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                    container["image"] = image


def _merge(base, patch, where):
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            raise RenderError(f"{where}: patch directive {key} not supported by render.py")
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, where)
        elif isinstance(value, list) and isinstance(base.get(key), list) and key in MERGE_KEYS:
            merge_key = MERGE_KEYS[key]
            for item in value:
                match = next((b for b in base[key] if isinstance(b, dict) and isinstance(item, dict)
                              and b.get(merge_key) == item.get(merge_key)), None)
                if match is None:
                    base[key].append(copy.deepcopy(item))
                else:
                    _merge(match, item, where)
        else:
            base[key] = copy.deepcopy(value)


def _apply_patches(objects, patches, directory, where):
    for entry in patches:
        extra = set(entry) - {"path", "patch", "target"}
        if extra:
            raise RenderError(f"{where}: patches field {', '.join(sorted(extra))} not supported")
        if "path" in entry:
            docs = _load_all(directory / entry["path"])
        else:
            docs = [doc for doc in yaml.safe_load_all(entry.get("patch", "")) if doc is not None]
        for doc in docs:
            if not isinstance(doc, dict):
                raise RenderError(f"{where}: only strategic-merge patches (mappings) are supported")
            target = dict(entry.get("target") or {})
            extra = set(target) - {"kind", "name"}
            if extra:
                raise RenderError(f"{where}: patch target {', '.join(sorted(extra))} not supported")
            kind = target.get("kind", doc.get("kind"))
            name = target.get("name", (doc.get("metadata") or {}).get("name"))
            matches = [o for o in objects if o.get("kind") == kind
                       and o.get("metadata", {}).get("name") == name]
            if len(matches) != 1:
                raise RenderError(f"{where}: a patch of {kind}/{name} matches {len(matches)} objects")
            patch = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
            patch.get("metadata", {}).pop("name", None)
            _merge(matches[0], patch, where)


def render(directory):
    """The objects `kubectl kustomize directory` renders, in resource order."""
    directory = pathlib.Path(directory)
    where, kustomization = _kustomization(directory)
    objects = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects += render(path)
        elif path.is_file():
            objects += _load_all(path)
        else:
            raise RenderError(f"{where}: resource {resource} not found")
    _apply_patches(objects, kustomization.get("patches", []), directory, where)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = namespace
    _set_images(objects, kustomization.get("images", []), where)
    for entry in kustomization.get("replicas", []):
        matches = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet")
                   and o["metadata"].get("name") == entry["name"]]
        if not matches:
            raise RenderError(f"{where}: replicas for {entry['name']}, which is not rendered here")
        for obj in matches:
            obj["spec"]["replicas"] = int(entry["count"])
    return objects


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        objects = render(argv[1])
    except RenderError as err:
        print(f"render.py: {err}", file=sys.stderr)
        return 1
    yaml.safe_dump_all(objects, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
