# syntax=docker/dockerfile:1
# Images of the Kanta gateway and of the mock Kanta used to test it.
#   docker build --target gateway    -t kanta-gateway .
#   docker build --target mock-kanta -t mock-kanta .
#   docker build --target fixtures   -t kanta-gateway-fixtures .
#   docker build --build-arg CRYPTO=boringcrypto -t kanta-gateway:boring .
# CRYPTO=go (default) or boringcrypto: the gateway signs with Go's own
# crypto or with BoringCrypto (GOEXPERIMENT=boringcrypto; cgo, linked
# statically so the image stays distroless/static). DESIGN.md says why
# the default is Go's.
# The gateway image's binary is the production build (-tags
# kanta_production): it has no demo and no fixtures commands and links
# neither the mock Kanta nor the fixture generators. The fixtures image
# carries the developer build (kanta-gateway-dev), whose fixtures command
# makes the compose stack's test PKI and batches (DESIGN.md, "The
# production binary").
# The gateway is static (CGO_ENABLED=0; SQLite is modernc's pure Go one), so
# its image is distroless: no shell, no package manager, uid 65532 (nonroot).
# The mock validates health documents against CDA_Fi.xsd with libxml2 in
# process (cgo, mockkanta/libxml2), so it links libxml2 dynamically and runs
# on Debian slim with the libxml2 package, of the same Debian release as the
# build image (bookworm), as uid 65532.

FROM golang:1.26-bookworm AS build
ARG CRYPTO=go
WORKDIR /src
ENV GOFLAGS=-trimpath
# gcc, libc6-dev and pkg-config come with the golang image.
RUN apt-get update && apt-get install -y --no-install-recommends libxml2-dev && rm -rf /var/lib/apt/lists/*
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    case "$CRYPTO" in \
      go) CGO_ENABLED=0 go build -trimpath -tags kanta_production -ldflags "-s -w" -o /out/kanta-gateway ./cmd/kanta-gateway ;; \
      boringcrypto) GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go build -trimpath -tags kanta_production,netgo,osusergo \
          -ldflags "-s -w -linkmode external -extldflags -static" -o /out/kanta-gateway ./cmd/kanta-gateway ;; \
      *) echo "CRYPTO must be go or boringcrypto, not $CRYPTO" >&2; exit 1 ;; \
    esac && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/kanta-gateway-dev ./cmd/kanta-gateway && \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/mock-kanta ./cmd/mock-kanta
# The mount point of the compose `work` volume, owned by nonroot: a new named
# volume takes the ownership of the image's directory, so the services can
# write to it without running as root.
RUN mkdir -p /out/work && chown 65532:65532 /out/work

# One-shot test data (PKI, synthetic export batches). The debug variant has
# a busybox shell, which the compose `fixtures` service needs to run several
# commands; the long-running images below have none.
FROM gcr.io/distroless/static:debug-nonroot AS fixtures
COPY --from=build /out/kanta-gateway-dev /usr/local/bin/kanta-gateway
COPY --from=build --chown=65532:65532 /out/work /work
WORKDIR /work
ENTRYPOINT ["/busybox/sh", "-c"]

FROM debian:bookworm-slim AS mock-kanta
RUN apt-get update && apt-get install -y --no-install-recommends libxml2 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/mock-kanta /usr/local/bin/mock-kanta
COPY --from=build --chown=65532:65532 /out/work /work
USER 65532:65532
WORKDIR /work
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/mock-kanta"]

# Last, so that a plain `docker build .` gives the gateway.
FROM gcr.io/distroless/static:nonroot AS gateway
COPY --from=build /out/kanta-gateway /usr/local/bin/kanta-gateway
COPY --from=build --chown=65532:65532 /out/work /work
WORKDIR /work
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/kanta-gateway"]
CMD ["run", "--config", "/etc/kanta-gateway/gateway.yaml"]
