#!/usr/bin/env bash
# Builds the container image offline-style (no image registry: the Debian sid base is made here with
# debootstrap) with buildah, runs the image's `appliance serve`, and checks that /healthz answers.
# Slow (a few minutes); not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}  # works without overlayfs support in the kernel
BASE_DIR=${BASE_DIR:-/var/cache/appliance/image-base}
BASE=localhost/debian-sid:latest
IMAGE=localhost/appliance:latest
PORT=${PORT:-18080}

command -v buildah >/dev/null || { echo "==> apt: installing buildah"; apt-get install -y -q buildah >/dev/null; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null

if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  if [ ! -f "$BASE_DIR/.done" ]; then
    echo "==> debootstrap a Debian sid base into $BASE_DIR"
    rm -rf "$BASE_DIR"; mkdir -p "$BASE_DIR"
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)
    debootstrap --variant=minbase sid "$BASE_DIR" "$MIRROR" >/dev/null
    touch "$BASE_DIR/.done"
  fi
  echo "==> importing it as $BASE"
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$BASE_DIR" --exclude=./.done -cf - . | tar -C "$mnt" -xf -
  buildah umount "$ctr" >/dev/null
  buildah commit -q "$ctr" "$BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

echo "==> building $IMAGE (buildah bud --isolation chroot)"
# The host's CA bundle rides along (read-only, build time only) in case PyPI is reached through a proxy
# whose certificate only the host trusts.
buildah bud -q --isolation chroot --network host \
  --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg HOST_CA=/run/host-ca.crt \
  -t "$IMAGE" . >/dev/null

echo "==> running the image's appliance serve on port $PORT"
ctr=$(buildah from "$IMAGE")
cleanup() { kill "$serve_pid" 2>/dev/null || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
buildah run --isolation chroot --network host --user appliance \
  --env APPLIANCE_PORT="$PORT" --env APPLIANCE_HOST=127.0.0.1 --env APPLIANCE_TELEPHONY=false \
  --env APPLIANCE_DATA_DIR=/tmp/appliance-data "$ctr" -- appliance serve > /tmp/check-image.log 2>&1 &
serve_pid=$!
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q ok; then
    echo "==> /healthz answered: the image works"
    exit 0
  fi
  sleep 1
done
echo "the image's appliance serve did not answer /healthz; its output:" >&2
cat /tmp/check-image.log >&2
exit 1
