#!/usr/bin/env bash
# `make image-check`: builds the container image from nothing on this machine and places a real call
# inside it.
#
# 1. The Debian sid base is made here with debootstrap (no image registry) and imported into buildah.
# 2. `buildah bud` builds the Dockerfile's two stages (wheels compiled in the builder, installed into a
#    runtime without a compiler, default models prepared). The pip cache and apt archives of earlier
#    builds are bind-mounted from /var/cache/appliance (build time only) so a rebuild does not fetch
#    again; FRESH=1 builds with empty caches. (SKIP_BUILD=1 checks the image already built: for working
#    on this script only.)
# 3. The image's own `appliance serve` runs with no host path mounted (telephony on: its Asterisk, its
#    loopback carrier, its voice models), on free ports of the host network.
# 4. Over the REST API: an agent, a call to the carrier's simulated person (+12025550101); the call
#    must end `completed` with the person's and the agent's words in the transcript and the `returns`
#    field extracted (`confirmed: true`, what the person's script says).
# 5. Reports the build time and the image size.
# Slow (a fresh build compiles llama.cpp): not part of `make test`. Run it before landing anything that
# touches the set-up, the Dockerfile or the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${STORAGE_DRIVER:-}" ]; then  # overlay where the kernel has it (much faster), else vfs
  if grep -qw overlay /proc/filesystems; then STORAGE_DRIVER=overlay; else STORAGE_DRIVER=vfs; fi
fi
export STORAGE_DRIVER
CACHE=${CACHE:-/var/cache/appliance}
BASE_DIR=$CACHE/image-base
BASE=localhost/debian-sid:latest
IMAGE=${IMAGE:-localhost/appliance:latest}
LOG=${LOG:-build/check-image}
mkdir -p "$LOG"

command -v buildah >/dev/null || { echo "==> apt: installing buildah"; apt-get install -y -q buildah >/dev/null; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null

started=$(date +%s)
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

# Build-time caches only (bind mounts are not part of any layer).
if [ "${FRESH:-0}" = 1 ]; then
  PIP_CACHE=$(mktemp -d) APT_CACHE=$(mktemp -d)
else
  PIP_CACHE=$CACHE/image-pip-cache APT_CACHE=$CACHE/image-apt-archives
fi
mkdir -p "$PIP_CACHE" "$APT_CACHE/partial"
build_started=$(date +%s)
if [ "${SKIP_BUILD:-0}" = 1 ] && buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
  echo "==> SKIP_BUILD=1: checking the image built before ($IMAGE)"
  build_took="not rebuilt (SKIP_BUILD=1)"
else
  echo "==> building $IMAGE (buildah bud --isolation chroot; log: $LOG/build.log)"
  # The host's CA bundle rides along (read-only, build time only) in case PyPI is reached through a proxy
  # whose certificate only the host trusts.
  if ! nice -n "${NICE:-10}" buildah bud --format docker --isolation chroot --network host \
    --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg HOST_CA=/run/host-ca.crt \
    --volume "$PIP_CACHE:/root/.cache/pip" --volume "$APT_CACHE:/var/cache/apt/archives" \
    ${LLAMA_CMAKE_ARGS:+--build-arg "LLAMA_CMAKE_ARGS=$LLAMA_CMAKE_ARGS"} \
    -t "$IMAGE" . > "$LOG/build.log" 2>&1; then
    tail -40 "$LOG/build.log" >&2
    echo "FAIL: the image did not build (whole log: $LOG/build.log)" >&2
    exit 1
  fi
  build_took="built in $(( $(date +%s) - build_started )) s"
  echo "==> $build_took"
fi

free_port() {  # a free port of the host (tcp or udp)
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}
PORT=$(free_port tcp)
rtp=$(( 30000 + RANDOM % 20000 ))
ENVS=(
  --env APPLIANCE_HOST=127.0.0.1 --env APPLIANCE_PORT="$PORT" --env APPLIANCE_DATA_DIR=/var/lib/appliance
  --env APPLIANCE_SIP_HOST=127.0.0.1 --env APPLIANCE_SIP_PORT="$(free_port udp)"
  --env APPLIANCE_CARRIER_SIP_PORT="$(free_port udp)"
  --env APPLIANCE_ARI_PORT="$(free_port tcp)" --env APPLIANCE_AMI_PORT="$(free_port tcp)"
  --env APPLIANCE_RTP_START="$rtp" --env APPLIANCE_RTP_END="$(( rtp + 199 ))"
)

echo "==> the image's appliance serve (Asterisk, loopback carrier, voice engine) on 127.0.0.1:$PORT"
ctr=$(buildah from "$IMAGE")
serve_pid=""
descendants() {  # every process under $1 (chroot isolation shares the host's process table)
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$child"; descendants "$child"; done
}
cleanup() {
  if [ -n "$serve_pid" ]; then
    # SIGTERM to what runs inside (appliance serve stops its Asterisk), then -9 to whatever is left.
    local procs; procs=$(descendants "$serve_pid")
    [ -z "$procs" ] || kill $procs 2>/dev/null || true
    for _ in $(seq 1 20); do
      [ -n "$(for p in $procs; do ps -p "$p" -o pid= 2>/dev/null; done)" ] || break
      sleep 1
    done
    [ -z "$procs" ] || kill -9 $procs 2>/dev/null || true
    kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true
  fi
  buildah rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# No compiler in what ships.
for tool in cc gcc c++ g++ cmake; do
  if buildah run --isolation chroot "$ctr" -- sh -c "command -v $tool" >/dev/null 2>&1; then
    echo "FAIL: the runtime image has a compiler ($tool)" >&2; exit 1
  fi
done
# The image's own command and user, no host path mounted. (The log is emptied here, not by the
# background job's redirection, so nothing of an earlier run is read as this one's.)
: > "$LOG/serve.log"
# shellcheck disable=SC2046
buildah run --isolation chroot --network host --user appliance "${ENVS[@]}" "$ctr" -- \
  $(buildah inspect --type image --format '{{range .Docker.Config.Cmd}}{{.}} {{end}}' "$IMAGE") > "$LOG/serve.log" 2>&1 &
serve_pid=$!

fail() { echo "FAIL: $*" >&2; echo "--- the container's output (tail; whole: $LOG/serve.log)" >&2; tail -60 "$LOG/serve.log" >&2; exit 1; }
deadline=$(( $(date +%s) + 180 ))
until grep -q '^Ready\.' "$LOG/serve.log" 2>/dev/null; do
  kill -0 "$serve_pid" 2>/dev/null || fail "appliance serve exited"
  [ "$(date +%s)" -lt "$deadline" ] || fail "appliance serve was not ready in 180 s"
  sleep 1
done
KEY=$(sed -n 's/^First API key .*: \(sk_[^ ]*\).*/\1/p' "$LOG/serve.log" | head -1)
[ -n "$KEY" ] || fail "no first API key in the output"

PORT=$PORT KEY=$KEY LOG=$LOG python3 - <<'EOF' || fail "the call inside the container did not complete as it should"
import json, os, sys, time, urllib.error, urllib.request

base, key = f"http://127.0.0.1:{os.environ['PORT']}", os.environ["KEY"]

def api(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as exc:
        if path == "/readyz" and exc.code == 503:  # not ready yet: the body says what is missing
            return json.load(exc)
        sys.exit(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}")

def wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            sys.exit(f"{what}: not after {timeout} s")
        time.sleep(1)
    return value

ready = wait("/readyz: database, telephony and voice ready",
             lambda: (r := api("GET", "/readyz"))["checks"].get("voice") is True and r["checks"].get("telephony") is True and r,
             300)
print("    /readyz:", json.dumps(ready["checks"]))
agent = api("POST", "/v1/agents", {
    "name": "Image check", "type": "outbound",
    "persona": "A friendly receptionist at Bright Smile Dental.",
    "instructions": "Confirm Alex's dental cleaning tomorrow at 3 pm. If Alex cannot come, offer Friday at 10 am.",
    "first_message": "Hi, this is Sam from Bright Smile Dental. Am I speaking with Alex?",
    "max_duration_seconds": 120, "returns": {"confirmed": "boolean"},
})
call = api("POST", "/v1/calls", {"agent_id": agent["id"], "to": "+12025550101"})
print(f"    call {call['id']} to +12025550101 (the carrier's simulated person)")
terminal = {"completed", "busy", "no_answer", "failed", "canceled", "voicemail"}
call = wait("the call ends", lambda: (c := api("GET", f"/v1/calls/{call['id']}"))["status"] in terminal and c, 240)
call = wait("the extraction", lambda: (c := api("GET", f"/v1/calls/{call['id']}"))["result_status"] != "pending" and c, 180)
segments = api("GET", f"/v1/calls/{call['id']}/transcript")["segments"]
events = api("GET", f"/v1/calls/{call['id']}/events")["events"]
with open(os.path.join(os.environ["LOG"], "call.json"), "w") as f:
    json.dump({"call": call, "transcript": segments, "events": events}, f, indent=2)
print(f"    status {call['status']} ({call.get('end_reason')}), billed {call.get('billed_duration_seconds')} s")
for s in segments:
    print(f"      {s['role']:>5}: {s['text']}")
print(f"    result_status {call['result_status']}, result {json.dumps(call['result'])}")
problems = []
if call["status"] != "completed":
    problems.append(f"status {call['status']}, not completed")
roles = [s["role"] for s in segments]
if roles.count("user") < 2 or roles.count("agent") < 2:
    problems.append(f"the transcript lacks a conversation: roles {roles}")
if not any("alex" in s["text"].lower() for s in segments if s["role"] == "user"):
    problems.append("the person's 'Yes, this is Alex.' is not in the transcript")
if call["result_status"] != "completed" or call["result"] != {"confirmed": True}:
    problems.append(f"result {call['result_status']} {call['result']}, expected completed {{'confirmed': True}}")
if problems:
    sys.exit("; ".join(problems))
EOF

size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
echo "==> PASS: $build_took ($(( $(date +%s) - started )) s in all), image $IMAGE is $size;" \
  "a call inside it completed with its transcript and result"
