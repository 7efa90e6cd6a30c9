# Sluice container image: a static-ish release build on Debian, run as an
# unprivileged user from a distroless base (glibc, CA roots, no shell).
#   docker build -t sluice .
#   docker run -p 8080:8080 -e OPENAI_API_KEY sluice
# See docs/deployment.md.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Manifests first, so dependency builds are cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY bench ./bench
RUN cargo build --release --locked -p sluice \
 && strip target/release/sluice

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
# The data directory (SQLite store, spool, generated admin key) is a volume.
VOLUME ["/var/lib/sluice"]
ENV SLUICE_LISTEN=0.0.0.0:8080 \
    SLUICE_ADMIN_LISTEN=0.0.0.0:8081 \
    SLUICE_DATA_DIR=/var/lib/sluice \
    SLUICE_LOG_FORMAT=json
EXPOSE 8080 8081
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["serve"]
