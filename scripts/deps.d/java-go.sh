# Java and Go clients (clients/java, clients/go) and their tests
# (tests/clients). Sourced by scripts/install-deps (bash, set -euo pipefail,
# cwd = repository root). Idempotent: a second run only compares versions and
# a checksum of the Maven project.
#
# Pinned here: the Go protoc plugins. Pinned in clients/java/pom.xml: grpc-java
# 1.85.0 (codegen 1.83.1), protobuf-java and protoc 4.36.2, JUnit 5.14.4,
# Spark 4.2.0 (profile spark). Pinned in clients/go/go.mod: grpc-go 1.85.0,
# google.golang.org/protobuf 1.36.12. protoc for Go is Debian's (install-deps).
NGSI_PROTOC_GEN_GO_VERSION=v1.36.12
NGSI_PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

java_go_missing=()
command -v javac >/dev/null || java_go_missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || java_go_missing+=(maven)
command -v go >/dev/null || java_go_missing+=(golang-go)
if ((${#java_go_missing[@]})); then
  echo "install-deps: apt-get install ${java_go_missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${java_go_missing[@]}" >/dev/null
fi

# protoc plugins for `go generate` in clients/go/ngsibridgev1; /usr/local/bin
# is on every PATH, CI's included.
if [[ "$(protoc-gen-go --version 2>/dev/null || true)" != "protoc-gen-go ${NGSI_PROTOC_GEN_GO_VERSION}" ]]; then
  echo "install-deps: go install protoc-gen-go ${NGSI_PROTOC_GEN_GO_VERSION}"
  GOTOOLCHAIN=local GOBIN=/usr/local/bin \
    go install "google.golang.org/protobuf/cmd/protoc-gen-go@${NGSI_PROTOC_GEN_GO_VERSION}"
fi
if [[ "$(protoc-gen-go-grpc --version 2>/dev/null || true)" != "protoc-gen-go-grpc ${NGSI_PROTOC_GEN_GO_GRPC_VERSION#v}" ]]; then
  echo "install-deps: go install protoc-gen-go-grpc ${NGSI_PROTOC_GEN_GO_GRPC_VERSION}"
  GOTOOLCHAIN=local GOBIN=/usr/local/bin \
    go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${NGSI_PROTOC_GEN_GO_GRPC_VERSION}"
fi
# The module cache answers `go test` offline afterwards; compiling the test
# binaries once (per go.sum change) warms the build cache, so that the tests
# do not spend a minute compiling grpc-go on a new machine.
go_sum="$(sha256sum clients/go/go.sum | cut -d' ' -f1)"
go_marker="$(GOTOOLCHAIN=local go env GOCACHE)/ngsi-bridge-go-client.sha256"
if [[ "$(cat "$go_marker" 2>/dev/null || true)" != "$go_sum" ]]; then
  echo "install-deps: go mod download and build clients/go (once per go.sum change)"
  (cd clients/go && GOTOOLCHAIN=local go mod download &&
    GOTOOLCHAIN=local go generate ./ngsibridgev1 &&
    GOTOOLCHAIN=local go test -count=1 -run '^$' ./... >/dev/null)
  echo "$go_sum" >"$go_marker"
fi

# Maven: resolve every plugin, protoc binary and dependency (the Spark profile
# too) into ~/.m2 once per pom.xml change, so that tests run `mvn -o`. Running
# the unit tests here is what makes surefire fetch its JUnit provider; the
# live tests skip without the services.
java_pom_sum="$(sha256sum clients/java/pom.xml | cut -d' ' -f1)"
java_marker="${HOME}/.m2/ngsi-bridge-java-client.sha256"
if [[ "$(cat "$java_marker" 2>/dev/null || true)" != "$java_pom_sum" ]]; then
  echo "install-deps: resolving clients/java (Maven Central, once per pom.xml change)"
  mvn -B -q -f clients/java/pom.xml -Pspark test dependency:build-classpath \
    -Dmdep.outputFile=/dev/null
  mkdir -p "${HOME}/.m2"
  echo "$java_pom_sum" >"$java_marker"
fi
unset java_go_missing java_pom_sum java_marker go_sum go_marker
