#!/bin/bash
# Install the Debian packages the build, the tests and the demo need (only the missing ones).
# Usage: scripts/deps.sh [--bench]   (--bench adds the peer servers used by bench/)
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      zlib1g-dev libuv1-dev libyaml-dev libldns-dev libssl-dev ldnsutils libmaxminddb-dev mmdb-bin node-llhttp
      libmaxmind-db-writer-perl bind9-dnsutils knot-dnsutils dnsperf unbound wrk curl chromium ffmpeg nginx
      python3 procps iproute2 util-linux dpkg-dev systemd man-db nsd knot)
if [ "${1:-}" = "--bench" ]; then
    PKGS+=(gdnsd)
fi
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting daemons (nginx, nsd, knot, gdnsd) on install. The file
# goes again however apt-get ends (a failed install, Ctrl-C): left behind, it would keep every
# later package from starting its service.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
fi
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
exit 0
