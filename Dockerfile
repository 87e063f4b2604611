# Build authgate from this repository (rustls TLS backend: no system OpenSSL needed).
#
# Two images:
#   docker build .                 the proxy (default, last stage): built
#                                  with --no-default-features, so neither the
#                                  load tool nor its test keys are in it
#   docker build --target tools .  the same binary with the tools (echo,
#                                  demo, loadtest, passthrough): the compose
#                                  file's stand-in upstream
# .ci/docker-context compiles exactly what this file copies, in CI.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY benches ./benches
RUN cargo build --release --locked --no-default-features --bin authgate

FROM build AS build-tools
# The load tool embeds these test keys (public in this repository, never
# for production); only the tools image gets them.
COPY tests/fixtures/jwt/keys ./tests/fixtures/jwt/keys
RUN cargo build --release --locked --bin authgate --target-dir /src/target-tools

FROM debian:bookworm-slim AS tools
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 authgate
COPY --from=build-tools /src/target-tools/release/authgate /usr/local/bin/authgate
USER authgate
ENTRYPOINT ["/usr/local/bin/authgate"]

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 authgate
COPY --from=build /src/target/release/authgate /usr/local/bin/authgate
USER authgate
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/authgate"]
CMD ["serve", "--config", "/etc/authgate/docker.toml"]
