#!/usr/bin/env bash
# Prints the path of a llama.cpp `llama-server`, building it first if this machine has none: the same
# llama.cpp the pinned llama-cpp-python vendors (its sdist from PyPI), with the same CPU flags
# (scripts/llama-cmake-args.sh). For the model-server tests and `bench/model_server.py`; a real deployment
# runs llama-server on its own machine. Cached in $LLAMA_SERVER_CACHE (one build per version and flags:
# about 6 minutes on 2 cores); progress goes to stderr, only the path to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
[ -n "$version" ] || { echo "llama-server.sh: no llama-cpp-python pin in pyproject.toml" >&2; exit 1; }
args="$(sh scripts/llama-cmake-args.sh)"
key=$(printf '%s %s' "$version" "$args" | sha256sum | cut -c1-12)
cache=${LLAMA_SERVER_CACHE:-/var/cache/appliance/llama-server}
binary="$cache/$version-$key/llama-server"
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9  # one build at a time: a second caller waits for the first one's binary
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "==> llama-server: fetching llama-cpp-python $version's source" >&2
# From the registry's simple index (pip download would build the package's metadata, and its build tools, first).
link=$(curl -fsS -m 60 https://pypi.org/simple/llama-cpp-python/ \
  | grep -o "https://[^\"]*/llama_cpp_python-$version\.tar\.gz#sha256=[0-9a-f]*" | head -1)
[ -n "$link" ] || { echo "llama-server.sh: llama-cpp-python $version has no sdist on PyPI" >&2; exit 1; }
curl -fsS -m 600 -o "$work/llama_cpp_python-$version.tar.gz" "${link%%#*}"
echo "${link##*sha256=}  $work/llama_cpp_python-$version.tar.gz" | sha256sum -c --quiet >&2
tar xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
echo "==> llama-server: building (llama.cpp's server and nothing else; a few minutes)" >&2
# No web UI (nothing may be fetched from a model hub), no curl (the model is a local file), static: one binary.
# shellcheck disable=SC2086
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF $args >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -50 "$work/build.log" >&2; exit 1; }
mkdir -p "$(dirname "$binary")"
install -m 755 "$work/build/bin/llama-server" "$binary.tmp"
mv "$binary.tmp" "$binary"  # whole or absent: a build cut short leaves nothing that looks done
echo "$binary"
