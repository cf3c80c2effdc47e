#!/usr/bin/env bash
# Renders every kustomization under compose/kubernetes and validates each object against the
# Kubernetes JSON schemas, offline, then checks what the schemas cannot (check.py's docstring).
# CI reaches no network but the package registries: the schemas come in the PyPI package
# kubernetes-validate, installed once into a venv cached under METAFRAZO_CACHE_DIR (again only
# when KUBERNETES_VALIDATE_VERSION changes); the kustomizations are rendered by render.py and,
# where kubectl is installed, compared with `kubectl kustomize`. `compose/local test` runs this.
#
#   compose/kubernetes/check.sh [KUSTOMIZATION_DIR…]     (default: every one)
set -Eeuo pipefail

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${METAFRAZO_CACHE_DIR:-$HOME/.cache/metafrazo}
KUBERNETES_VALIDATE_VERSION=1.37.0
VENV=$CACHE/kubernetes-validate
stamp=$VENV/.metafrazo-installed

if [[ $(cat "$stamp" 2>/dev/null) != "$KUBERNETES_VALIDATE_VERSION" ]]; then
  echo "compose/kubernetes/check.sh: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV (once)"
  rm -rf "$VENV"
  # Debian's python3 needs python3-venv for this (compose/stack/install.sh installs it).
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  echo "$KUBERNETES_VALIDATE_VERSION" >"$stamp"
fi

# -B: no __pycache__ left beside the scripts.
exec "$VENV/bin/python" -B "$K8S_DIR/check.py" "$@"
