#!/usr/bin/env bash
# Installs the Debian packages slic builds and tests with, if any are missing.
# Fast when everything is present: it asks dpkg and installs nothing. Without root it prints the
# exact apt-get line to run and fails, so a build never half-works for want of a library.
set -euo pipefail

build_pkgs=(
    libuv1-dev libnng-dev libmbedtls-dev libprotobuf-c-dev protobuf-c-compiler liblmdb-dev
    libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev
    gcc make pkg-config
)
# clang and its runtime give libFuzzer; jq reads JSON in end-to-end tests; prometheus gives
# promtool, which checks /metrics (about 95 MB installed); chromium runs the dashboard page's
# script headless (about 350 MB installed); the rest are real servers and tools the tests start.
test_pkgs=(clang libclang-rt-14-dev jq procps iproute2 tzdata nginx curl prometheus-alertmanager prometheus
    chromium openssl) # openssl: the TLS tests make their certificates with it

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root: $line" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Servers installed for the tests (nginx, prometheus, alertmanager) must not start as system
# services listening on every interface: the tests start their own, on loopback. Debian's
# policy-rc.d hook (exit 101 = "do not start") stops that for the duration of the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
# A fresh machine's package lists may be empty or stale: update once, then install.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
