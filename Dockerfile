# syntax=docker/dockerfile:1
# Herald's container image: `herald` and `heraldctl` on Debian 12.
#   docker build -t herald:dev .
#   docker run --rm herald:dev --help
# The build stage installs the packages and builds exactly as a developer
# does (scripts/install-deps, scripts/build); the runtime stage installs only
# the scripts/debian-packages.txt entries marked @runtime (no compiler, no
# -dev package) and runs as an unprivileged user with a fixed UID, so
# Kubernetes' runAsNonRoot can verify it. deploy/docker/dockerfile_test.py (a
# ctest) checks this file's references statically; no image is built in the
# test suite.

FROM debian:12 AS build
WORKDIR /src
# The package list first: the layer with every package stays cached until
# the list changes.
COPY scripts/install-deps scripts/debian-packages.txt scripts/
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
ARG HERALD_BUILD_JOBS=2
# ccache keeps its objects in a BuildKit cache mount between builds.
RUN --mount=type=cache,target=/root/.cache/ccache \
    HERALD_BUILD_JOBS="${HERALD_BUILD_JOBS}" scripts/build herald heraldctl \
 && install -D -m 0755 build/runtime/herald /out/usr/local/bin/herald \
 && install -D -m 0755 build/cli/heraldctl /out/usr/local/bin/heraldctl

FROM debian:12-slim AS runtime
COPY scripts/install-deps scripts/debian-packages.txt /tmp/herald-deps/
RUN /tmp/herald-deps/install-deps --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/herald-deps
# UID/GID 10001: fixed, outside the range of Debian's system users, matched by
# runAsUser/runAsGroup in deploy/kubernetes.
RUN groupadd --system --gid 10001 herald \
 && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /var/lib/herald --create-home \
      --shell /usr/sbin/nologin herald
COPY --from=build /out/ /
# The example workflows and preferences, where `herald all` looks by default
# (--workflows=examples/workflows relative to the working directory).
COPY examples/ /var/lib/herald/examples/
USER 10001:10001
WORKDIR /var/lib/herald
# gRPC API and health, delivery service, Prometheus metrics.
EXPOSE 50051 50061 9464
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["all"]
