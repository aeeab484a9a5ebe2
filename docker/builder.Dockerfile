# The Rust builder base: the toolchain on musl (so binaries are static) and
# the workspace's dependencies already compiled, with cargo-chef, in a layer
# that a change to our own code does not invalidate.
# Built by ./build_base_images.sh as rsdist/builder:1.95.
FROM rust:1.95-alpine3.22 AS chef
RUN apk add --no-cache musl-dev \
    && cargo install cargo-chef --locked --version 0.1.78
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
