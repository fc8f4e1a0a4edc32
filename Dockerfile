# syntax=docker/dockerfile:1
#
# nomad-gateway as a container: a multi-stage build whose final image holds only the
# stripped binary, CA certificates and the C libraries it links (distroless `cc`), and
# runs as a fixed non-root user with a read-only root filesystem (state under /data).
#
#   docker build -t nomad-gateway:0.1.0 .
#   docker run --read-only -v nomad-gateway-data:/data -p 8080:8080 nomad-gateway:0.1.0
#
# The base images are build arguments so a mirror (or, in this project's tests, a local
# stand-in) can take their place.
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# checkov:skip=CKV_DOCKER_7: the base images are build arguments whose defaults carry fixed tags
FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The dependencies first, in a layer of their own: the manifests and the lock file with
# empty sources, so a change to the gateway's code rebuilds only the gateway.
COPY Cargo.toml Cargo.lock ./
COPY migrations/Cargo.toml migrations/Cargo.toml
COPY tests/fake-nomad/Cargo.toml tests/fake-nomad/Cargo.toml
RUN mkdir -p src migrations/src tests/fake-nomad/src tests/gateway \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > tests/fake-nomad/src/main.rs \
    && echo 'fn main() {}' > tests/gateway/main.rs \
    && touch src/lib.rs migrations/src/lib.rs tests/fake-nomad/src/lib.rs \
    && cargo build --release --locked --package nomad-gateway \
    && rm -rf src migrations/src
COPY src src
COPY migrations migrations
# Newer than the empty sources the dependency layer built.
RUN touch src/main.rs src/lib.rs migrations/src/lib.rs \
    && cargo build --release --locked --package nomad-gateway \
    && install -D -m 0755 target/release/nomad-gateway /out/nomad-gateway \
    && mkdir -p /out/data

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="nomad-gateway" \
      org.opencontainers.image.description="Run HashiCorp Nomad jobs safely from AI agents and people, over MCP and REST" \
      org.opencontainers.image.source="https://github.com/nomad-gateway/nomad-gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0"
COPY --from=build /out/nomad-gateway /usr/local/bin/nomad-gateway
# /data belongs to the gateway's user: the SQLite default and the audit spool live there.
COPY --from=build --chown=10001:10001 /out/data /data
ENV GATEWAY_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/nomad-gateway.db \
    GATEWAY_AUDIT_SPOOL=/data/audit-spool \
    GATEWAY_LOG_FORMAT=json
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 8443
USER 10001:10001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/nomad-gateway", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/nomad-gateway"]
CMD ["serve"]
