# smsgw, the fake carrier, as a container (docs/container.md).
#
#   docker build -t smsgw .
#   docker run --rm -p 2775:2775 -p 7890:7890 -p 8775:8775 -p 8776:8776 -e SMSGW_TOKEN=... smsgw
#
# BASE is any image with Python 3.11 and its venv module: the official slim image by default,
# or one made offline (interop/docker/base-image.sh debootstraps Debian bookworm). With
# --build-arg OFFLINE=1 it installs smsgw and what it needs from the wheels in dist/wheels alone
# (interop/docker/build-image.sh, `make image`, builds them first) and needs no network.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# So that build-image.sh can remove this stage's image once the build is done.
LABEL smsgw.stage=build
ARG OFFLINE=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY . /src
# Offline only when asked: wheels left in dist/wheels by an earlier build are not this source.
RUN python3 -m venv /opt/smsgw \
 && if [ -n "$OFFLINE" ]; then \
        /opt/smsgw/bin/pip install --no-index --find-links /src/dist/wheels 'smsgw[postgres]'; \
    else \
        /opt/smsgw/bin/pip install '/src[postgres]'; \
    fi

FROM ${BASE}
COPY --from=build /opt/smsgw /opt/smsgw
# The store lives on the volume; the process runs as an unprivileged user that owns it.
RUN mkdir -p /data && chown 10001:10001 /data
# Listen beyond the container's loopback, so published ports reach smsgw: its token rule then
# applies (a token is made up and printed unless SMSGW_TOKEN gives one; docs/container.md).
ENV PATH=/opt/smsgw/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SMSGW_SMPP_HOST=0.0.0.0 \
    SMSGW_CMPP_HOST=0.0.0.0 \
    SMSGW_HTTP_HOST=0.0.0.0 \
    SMSGW_MERCHANT_HTTP_HOST=0.0.0.0 \
    SMSGW_STORE_PATH=/data/smsgw.db
VOLUME /data
WORKDIR /data
USER 10001:10001
EXPOSE 2775 7890 8775 8776
HEALTHCHECK --interval=5s --timeout=5s --start-period=20s --retries=3 \
    CMD ["smsgw", "health", "--ports-file", "/tmp/smsgw-ports.json"]
ENTRYPOINT ["smsgw", "serve", "--ports-file", "/tmp/smsgw-ports.json"]
