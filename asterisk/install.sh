#!/usr/bin/env bash
# Makes Asterisk >= 22.6 available to the appliance. Uses a system Asterisk when it is new enough;
# otherwise builds (once, cached) a Debian sid root with debootstrap and installs Asterisk inside,
# to be run with chroot sharing the host network (sid's Asterisk needs a newer libc than bookworm).
# Idempotent: a finished root is reused; a half-built one is finished or rebuilt.
set -euo pipefail
ROOT=${APPLIANCE_ASTERISK_ROOT:-/var/cache/appliance/asterisk-sid}
MIN_MAJOR=22 MIN_MINOR=6

version_ok() {  # "Asterisk 22.10.1..." → at least 22.6
  local v; v=$("$@" -V 2>/dev/null | sed -n 's/^Asterisk \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt $MIN_MAJOR ] || { [ "$1" -eq $MIN_MAJOR ] && [ "$2" -ge $MIN_MINOR ]; }
}

if command -v asterisk >/dev/null 2>&1 && version_ok asterisk; then
  echo "==> asterisk: using the system one ($(asterisk -V))"
  exit 0
fi
if [ -f "$ROOT/.appliance-ready" ] && [ -x "$ROOT/usr/sbin/asterisk" ]; then
  exit 0
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
command -v debootstrap >/dev/null || { echo "==> apt: installing debootstrap"; $SUDO apt-get install -y -q debootstrap; }
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ ! -f "$ROOT/.debootstrap-done" ]; then
  echo "==> asterisk: building a Debian sid root in $ROOT (about a minute)"
  $SUDO rm -rf "$ROOT"
  $SUDO mkdir -p "$ROOT"
  $SUDO debootstrap --variant=minbase sid "$ROOT" "$MIRROR" >/dev/null
  $SUDO touch "$ROOT/.debootstrap-done"
fi

cleanup() { $SUDO umount "$ROOT/proc" 2>/dev/null || true; }
trap cleanup EXIT
mountpoint -q "$ROOT/proc" || $SUDO mount -t proc proc "$ROOT/proc"
$SUDO cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
echo "==> asterisk: apt-get install asterisk in the sid root"
apt_in() { $SUDO chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive "$@"; }
apt_in apt-get update -q >/dev/null || apt_in apt-get -o Acquire::Check-Valid-Until=false update -q >/dev/null
apt_in apt-get install -y -q --no-install-recommends asterisk asterisk-modules asterisk-core-sounds-en-gsm >/dev/null
# The package's own service must never start inside the root; the appliance runs Asterisk itself.
version_ok $SUDO chroot "$ROOT" /usr/sbin/asterisk || { echo "asterisk in $ROOT is older than 22.6" >&2; exit 1; }
$SUDO touch "$ROOT/.appliance-ready"
echo "==> asterisk: $($SUDO chroot "$ROOT" /usr/sbin/asterisk -V) ready in $ROOT"
