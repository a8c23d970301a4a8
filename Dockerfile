# syntax=docker/dockerfile:1
# Images of the Kanta gateway and of the mock Kanta used to test it.
#   docker build --target gateway    -t kanta-gateway .
#   docker build --target mock-kanta -t mock-kanta .
#   docker build --target fixtures   -t kanta-gateway-fixtures .
# Both binaries are static (CGO_ENABLED=0; SQLite is modernc's pure Go one),
# so the runtime images are distroless: no shell, no package manager, run as
# uid 65532 (nonroot).

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/kanta-gateway ./cmd/kanta-gateway && \
    go build -trimpath -ldflags "-s -w" -o /out/mock-kanta ./cmd/mock-kanta
# The mount point of the compose `work` volume, owned by nonroot: a new named
# volume takes the ownership of the image's directory, so the services can
# write to it without running as root.
RUN mkdir -p /out/work && chown 65532:65532 /out/work

# One-shot test data (PKI, synthetic export batches). The debug variant has
# a busybox shell, which the compose `fixtures` service needs to run several
# commands; the long-running images below have none.
FROM gcr.io/distroless/static:debug-nonroot AS fixtures
COPY --from=build /out/kanta-gateway /usr/local/bin/kanta-gateway
COPY --from=build --chown=65532:65532 /out/work /work
WORKDIR /work
ENTRYPOINT ["/busybox/sh", "-c"]

FROM gcr.io/distroless/static:nonroot AS mock-kanta
COPY --from=build /out/mock-kanta /usr/local/bin/mock-kanta
COPY --from=build --chown=65532:65532 /out/work /work
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
