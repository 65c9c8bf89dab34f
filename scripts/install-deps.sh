#!/usr/bin/env bash
# Installs what tsdock needs on a fresh Debian machine: Debian packages (as root, only when
# missing) and the npm modules. Usage: install-deps.sh [demo|test]
#   demo: what building tsdock and `make demo` use (a C compiler for the helpers, umoci and
#         busybox-static for the offline base image, iproute2 and iptables for the bridge)
#   test: (the default) that plus the peer tools the tests and benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=${1:-test}

# command -> Debian package
declare -A want=(
  [cc]=gcc [umoci]=umoci [busybox]=busybox-static [ip]=iproute2 [iptables]=iptables
)
case "$set_name" in
  demo) ;;
  test)
    want+=(
      [skopeo]=skopeo [docker-registry]=docker-registry [runc]=runc [curl]=curl [wrk]=wrk
      [ab]=apache2-utils [hyperfine]=hyperfine [dockerd]=docker.io [buildah]=buildah
      [podman]=podman [htpasswd]=apache2-utils [debootstrap]=debootstrap [openssl]=openssl
      [docker-compose]=docker-compose [pg_ctlcluster]=postgresql [zsh]=zsh [ctr]=containerd
      [ceph-mon]=ceph-mon [ceph-osd]=ceph-osd [radosgw]=radosgw [ceph]=ceph-common
      [qemu-aarch64-static]=qemu-user-static [haproxy]=haproxy [chromium]=chromium
      [newuidmap]=uidmap [pasta]=passt [slirp4netns]=slirp4netns [fuse-overlayfs]=fuse-overlayfs
      [strace]=strace
    )
    ;;
  *)
    echo "usage: install-deps.sh [demo|test]" >&2
    exit 125
    ;;
esac
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
