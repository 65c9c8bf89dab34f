#!/usr/bin/env bash
# Installs what tsdock's build, tests and demo need on a fresh Debian machine:
# the peer tools from Debian's archive (as root, only when missing) and the npm modules.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A want=(
  [skopeo]=skopeo [umoci]=umoci [docker-registry]=docker-registry [busybox]=busybox-static
  [runc]=runc [ip]=iproute2 [curl]=curl [cc]=gcc [wrk]=wrk [ab]=apache2-utils [hyperfine]=hyperfine
  [dockerd]=docker.io [buildah]=buildah [podman]=podman [htpasswd]=apache2-utils [iptables]=iptables [debootstrap]=debootstrap [openssl]=openssl [docker-compose]=docker-compose
  [pg_ctlcluster]=postgresql [strace]=strace
  [ceph-mon]=ceph-mon [ceph-osd]=ceph-osd [radosgw]=radosgw [ceph]=ceph-common
)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
    echo "installing Debian packages: $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "note: missing tools (tests that need them will fail): ${missing[*]}" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
