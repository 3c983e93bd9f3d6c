# The plinth image: one binary for every in-cluster component (scheduler, guard webhook,
# zero-trust controller) and the CLI. Build from the repository root:
#
#   docker build -t ghcr.io/plinth-dev/plinth:0.1.0 .
#
# (The development machines of this project have no container engine, so this file is
# kept buildable but is not built by the test suite.)

# Build stage: the pinned stable toolchain of the workspace (rust-version in Cargo.toml
# is the minimum), dependencies locked by Cargo.lock.
FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p plinth \
 && install -D -m 0755 target/release/plinth /out/plinth

# Runtime: distroless with glibc and libgcc (plinth links them dynamically; ring and
# mimalloc need nothing else), no shell, no package manager, non-root user 65532 — the
# UID the manifests in deploy/ run as.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/plinth /usr/local/bin/plinth
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/plinth"]
