#!/usr/bin/env bash
# The one test command (README): installs what the tests need on a fresh
# machine, makes sure PostgreSQL is up, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# --- external checkers the tests call (never assumed) -----------------------
need=()
command -v xmlsec1 >/dev/null || need+=(xmlsec1)
command -v xmllint >/dev/null || need+=(libxml2-utils)
# promtool checks the rules; the prometheus server runs in the e2e test
# (e2e/prometheus_test.go) on its own loopback port.
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need+=(prometheus)
command -v pg_isready >/dev/null || need+=(postgresql-client)
# The console's browser test drives Debian's headless Chromium (chromedp).
command -v chromium >/dev/null || need+=(chromium)
# The mock validates health documents against CDA_Fi.xsd with libxml2 in
# process (cgo): mockkanta/libxml2 needs a C compiler, pkg-config and the
# libxml2 headers to build.
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
{ command -v pkg-config >/dev/null && pkg-config --exists libxml-2.0; } || need+=(libxml2-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # prometheus's postinst may start a system server (not in containers,
  # where policy-rc.d refuses): the tests never use it, they start their
  # own on a free loopback port with a temporary storage directory.
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# --- PostgreSQL for the postgres queue backend ------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  if ! command -v pg_ctlcluster >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
export KANTA_TEST_POSTGRES_DSN="${KANTA_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

if [ "$(go env CGO_ENABLED)" != 1 ]; then
  echo "cgo is off (CGO_ENABLED=$(go env CGO_ENABLED)): the mock's CDA schema validator (mockkanta/libxml2) needs it" >&2
  exit 1
fi

# --- static checks ----------------------------------------------------------
log "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi
log "go vet"
go vet ./...

log "go mod tidy -diff"
# go.mod and go.sum must be as go mod tidy writes them.
go mod tidy -diff

# golangci-lint v2, pinned, built into a local bin dir (not a go.mod tool
# dependency: its own requirements would enter our module graph). The set of
# linters is in .golangci.yml (DESIGN.md, "Lint").
GOLANGCI_LINT_VERSION=v2.15.0
LINT_BIN="$PWD/.cache/bin"
if ! "$LINT_BIN/golangci-lint" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
  log "installing golangci-lint $GOLANGCI_LINT_VERSION"
  mkdir -p "$LINT_BIN"
  GOFLAGS= GOBIN="$LINT_BIN" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
log "golangci-lint"
"$LINT_BIN/golangci-lint" run ./...

# --- tests --------------------------------------------------------------------
log "go test -race"
go test -race -count=1 -timeout 30m ./...

# The production build (-tags kanta_production: no demo, no fixtures; the
# Dockerfile's gateway image) compiles, vets and passes the cli tests,
# among them TestProductionBuildHasNoDeveloperCommands, built only there.
log "go vet + go test, -tags kanta_production: cli and the mains"
go vet -tags kanta_production ./cli/ ./cmd/...
go test -race -count=1 -tags kanta_production ./cli/ ./cmd/...

# The BoringCrypto build variant (Dockerfile --build-arg CRYPTO=boringcrypto,
# DESIGN.md): the packages whose behaviour rests on crypto (signatures, TLS,
# the wire format, the mock's verification) and the end-to-end run, built
# with GOEXPERIMENT=boringcrypto (cgo). signing/boring_test.go checks that
# BoringCrypto is really in use there.
log "go test -race, GOEXPERIMENT=boringcrypto: crypto packages and e2e"
GOEXPERIMENT=boringcrypto go vet ./signing/ ./submit/
GOEXPERIMENT=boringcrypto go test -race -count=1 -timeout 30m \
  ./signing/ ./wire/ ./submit/ ./mockkanta/... ./fixtures/pki/ ./e2e/

log "fuzz: adapter line parser (short run)"
go test -run='^$' -fuzz=FuzzParseLine -fuzztime="${FUZZTIME:-20s}" ./adapter

if [ -d deploy/prometheus ]; then
  log "promtool: alert rules and their unit tests"
  promtool check rules deploy/prometheus/*rules*.yml
  promtool test rules deploy/prometheus/tests/*.yml
fi

log "all checks passed"
