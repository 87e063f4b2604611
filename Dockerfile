# Build authgate from this repository (rustls TLS backend: no system OpenSSL needed).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin authgate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 authgate
COPY --from=build /src/target/release/authgate /usr/local/bin/authgate
USER authgate
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/authgate"]
CMD ["serve", "--config", "/etc/authgate/docker.toml"]
