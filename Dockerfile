# azpath in a container: built from this source tree, run as a non-root user.
#   docker build -t azpath .
#   docker run --rm -e AZPATH_ARM_TOKEN -e AZPATH_GRAPH_TOKEN azpath scan --subscription ID
# deploy/kubernetes/ runs it as a CronJob.

FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin azpath

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 azpath \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/azpath --shell /usr/sbin/nologin azpath \
 && mkdir -p /var/lib/azpath \
 && chown azpath:azpath /var/lib/azpath
COPY --from=build /src/target/release/azpath /usr/local/bin/azpath
USER 10001:10001
WORKDIR /var/lib/azpath
ENTRYPOINT ["azpath"]
CMD ["--help"]
