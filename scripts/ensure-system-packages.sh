#!/usr/bin/env bash
# Installs, only where missing, the Debian packages the tests use. Run by `npm test`.
# In CI (CI=true) a prerequisite that cannot be installed fails the run; elsewhere the tests that
# need it skip and say why.
set -euo pipefail

# command → Debian package that provides it
declare -A need=(
  [unbound]=unbound [unbound-checkconf]=unbound [nft]=nftables [avahi-daemon]=avahi-daemon
  [avahi-publish]=avahi-utils [avahi-resolve]=avahi-utils [dbus-daemon]=dbus [dbus-send]=dbus
  [kdig]=knot-dnsutils [dnsperf]=dnsperf [ip]=iproute2 [unshare]=util-linux [nix-instantiate]=nix-bin
  [chromium]=chromium [python3]=python3
  [dnsdist]=dnsdist # bench/front-qps.bench.ts: the reference relay
)
missing=()
for cmd in "${!need[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)

fail_or_warn() {
  if [ "${CI:-}" = "true" ]; then echo "ensure-system-packages: $1" >&2; exit 1; fi
  echo "ensure-system-packages: $1 — tests that need them will skip." >&2
  exit 0
}

if [ "$(id -u)" -ne 0 ]; then fail_or_warn "missing ${pkgs[*]} and not root, cannot apt-get install"; fi
if ! command -v apt-get >/dev/null 2>&1; then fail_or_warn "missing ${pkgs[*]} and no apt-get on this machine"; fi
echo "ensure-system-packages: installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: do not start the packaged services (the tests start their own, in namespaces).
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; cleanup_policy=1; fi
trap '[ $cleanup_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
if ! { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null; }; then
  fail_or_warn "apt-get install ${pkgs[*]} failed"
fi
