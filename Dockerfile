# The appliance in one image: Debian sid (Asterisk 22 from apt), Python 3.13, the project in a venv.
# Build offline from a locally made base (no image registry needed): scripts/check-image.sh.
FROM localhost/debian-sid:latest

ENV DEBIAN_FRONTEND=noninteractive
RUN (apt-get update -q || apt-get -o Acquire::Check-Valid-Until=false update -q) \
 && apt-get install -y -q --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-gsm \
      python3.13 python3.13-venv make espeak-ng sox sip-tester ca-certificates curl procps \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /var/lib/appliance --shell /usr/sbin/nologin appliance
WORKDIR /opt/appliance
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY asterisk ./asterisk
COPY web ./web
COPY models/README.md ./models/README.md
# HOST_CA: a CA bundle to trust for PyPI (e.g. a TLS-inspecting proxy's), mounted by the build script.
ARG HOST_CA=""
RUN if [ -n "$HOST_CA" ]; then export PIP_CERT="$HOST_CA"; fi \
 && python3.13 -m venv .venv \
 && .venv/bin/pip install --no-cache-dir -q --upgrade pip \
 && .venv/bin/pip install --no-cache-dir -q -e . \
 && chown -R appliance:appliance /opt/appliance/models

ENV PATH=/opt/appliance/.venv/bin:$PATH \
    APPLIANCE_DATA_DIR=/var/lib/appliance \
    APPLIANCE_HOST=0.0.0.0 \
    APPLIANCE_PORT=8080
USER appliance
VOLUME /var/lib/appliance
# HTTP (API + console), SIP, RTP. ARI and AMI stay on 127.0.0.1 inside the container.
EXPOSE 8080 5060/udp 5060/tcp 20000-20999/udp
HEALTHCHECK --interval=15s --timeout=3s CMD curl -fsS http://127.0.0.1:${APPLIANCE_PORT}/healthz || exit 1
CMD ["appliance", "serve"]
