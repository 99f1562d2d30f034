#!/usr/bin/env bash
# install_deb: the Debian package as cpack builds it from this build: its control data
# (Depends, conffiles, maintainer scripts), its file list, and the files themselves extracted
# into a scratch root with dpkg-deb -x (never installed on this machine): the configuration
# loads and serves with the packaged programs, the units pass systemd-analyze verify, the man
# pages render without warnings and name every option of --help.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
: "${BUILD:=$(dirname "$BIN")}"

for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze man gzip curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "tool $tool is installed (scripts/deps.sh installs dpkg-dev, systemd, man-db)"
        finish
    fi
done
if [ ! -f "$BUILD/CPackConfig.cmake" ]; then
    fail "$BUILD/CPackConfig.cmake exists (cmake/install.cmake included from CMakeLists.txt)"
    finish
fi

echo "# cpack -G DEB"
R=$(cd "$TMP" && cpack --config "$BUILD/CPackConfig.cmake" -B "$TMP/pkg" 2>&1)
expect_eq "cpack builds the package" "$?" 0 || printf '%s\n' "$R" | tail -n 20
debs=("$TMP"/pkg/geodns_*.deb)
DEB=${debs[0]}
if [ ! -f "$DEB" ]; then
    fail "cpack wrote pkg/geodns_VERSION_ARCH.deb" "$(find "$TMP/pkg" -maxdepth 1)"
    finish
fi
pass "package file $(basename "$DEB")"
version=$("$BIN/geodnsd" --version | awk '{print $2}')
expect_eq "package version is geodnsd --version" "$(dpkg-deb -f "$DEB" Version)" "$version"

echo "# control data"
R=$(dpkg-deb -f "$DEB" Depends)
for dep in adduser libc6 libuv1 libyaml-0-2 libldns3 libmaxminddb0 zlib1g; do
    has "Depends names $dep" "(^|, )$dep( \(|,|$)"
done
R=$(dpkg-deb -I "$DEB")
for f in conffiles postinst prerm postrm; do
    has "control archive has $f" " $f( |$)"
done
CTRL=$TMP/control
dpkg-deb -e "$DEB" "$CTRL"
CONFFILES=(/etc/geodns/geodnsd.yaml /etc/geodns/pops.yaml /etc/geodns/cdn.example.test.yaml
    /etc/geodns/admin.yaml /etc/geodns/segment-edge.yaml)
expect_eq "conffiles lists exactly the /etc/geodns set" "$(sort "$CTRL/conffiles" | tr '\n' ' ')" \
    "$(printf '%s\n' "${CONFFILES[@]}" | sort | tr '\n' ' ')"
for s in postinst prerm postrm; do
    expect_eq "$s is executable and valid sh" "$([ -x "$CTRL/$s" ] && sh -n "$CTRL/$s" && echo yes)" yes
done

echo "# file list"
R=$(dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}')
for f in usr/sbin/geodnsd usr/sbin/segment-edge usr/sbin/healthcheck; do
    has "$f, mode 0755, root" "^-rwxr-xr-x root/root \./$f$"
done
for f in "${CONFFILES[@]}"; do
    has "${f#/} (conffile)" "^-rw-r--r-- root/root \.$f$"
done
for f in usr/share/man/man8/geodnsd.8.gz usr/share/man/man8/healthcheck.8.gz \
    usr/share/man/man8/segment-edge.8.gz usr/share/man/man5/geodnsd.yaml.5.gz \
    usr/lib/systemd/system/geodnsd.service usr/lib/systemd/system/segment-edge.service \
    usr/lib/systemd/system/geodns-healthcheck.service \
    usr/lib/systemd/system/geodns-healthcheck.timer usr/share/geodns/example-city.mmdb \
    usr/share/doc/geodns/install.md usr/share/doc/geodns/examples/geodnsd.yaml; do
    has "$f" "^-rw-r--r-- root/root \./$f$"
done
hasnt "nothing under usr/local" '\./usr/local/'
hasnt "no test programs" '/(test_|replay_|dnsq)'

echo "# maintainer scripts, run against stand-in commands (nothing on this machine changes)"
STUBS=$TMP/stubs
mkdir -p "$STUBS"
for c in adduser install systemctl rm; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$c" "$TMP" >"$STUBS/$c"
done
printf '#!/bin/sh\nexit 2\n' >"$STUBS/getent" # the geodns user does not exist yet
chmod +x "$STUBS"/*
PATH=$STUBS:$PATH sh "$CTRL/postinst" configure ""
expect_eq "postinst configure: exit 0" "$?" 0
R=$(cat "$TMP/calls" 2>/dev/null)
has "postinst creates the system user geodns" '^adduser --system .*geodns$'
has "postinst creates /var/lib/geodns/health owned by geodns" \
    '^install -d .*-o geodns -g geodns .*/var/lib/geodns/health$'
hasnt "postinst enables or starts nothing" '^systemctl .*(enable|start)'
: >"$TMP/calls"
PATH=$STUBS:$PATH sh "$CTRL/prerm" remove
R=$(cat "$TMP/calls")
has "prerm remove disables the units" '^systemctl disable .*geodnsd\.service'
: >"$TMP/calls"
PATH=$STUBS:$PATH sh "$CTRL/prerm" upgrade
expect_eq "prerm upgrade leaves the units alone" "$(cat "$TMP/calls")" ""
PATH=$STUBS:$PATH sh "$CTRL/postrm" purge
R=$(cat "$TMP/calls")
has "postrm purge removes the state directory" '^rm -rf /var/lib/geodns '

echo "# extracted into a scratch root"
ROOT=$TMP/root
dpkg-deb -x "$DEB" "$ROOT"
CONF=$ROOT/etc/geodns
R=$(cat "$CONF/geodnsd.yaml")
has "installed geodnsd.yaml names the installed database" \
    '^geoip: \{mmdb: /usr/share/geodns/example-city\.mmdb,'
has "installed geodnsd.yaml reads the state directory of the timer" \
    '^health: \{dir: /var/lib/geodns/health,'
hasnt "installed geodnsd.yaml names nothing in a build tree" 'build/'
cmp -s "$CONF/geodnsd.yaml" "$ROOT/usr/share/doc/geodns/examples/geodnsd.yaml"
expect_eq "examples/geodnsd.yaml is the installed /etc/geodns/geodnsd.yaml" "$?" 0

# The configuration names /usr/share/geodns/example-city.mmdb absolutely, which is right once
# installed but not in the scratch root: the check reads a copy with that one path moved there.
CHECK=$CONF/check-geodnsd.yaml
sed "s#/usr/share/geodns/example-city\.mmdb#$ROOT/usr/share/geodns/example-city.mmdb#" \
    "$CONF/geodnsd.yaml" >"$CHECK"
R=$("$ROOT/usr/sbin/geodnsd" --check -c "$CHECK" 2>&1)
expect_eq "packaged geodnsd --check of the installed config: exit 0" "$?" 0
has "--check: the example zone loads" '^zone cdn\.example\.test\.: serial'
GEODNSD=$ROOT/usr/sbin/geodnsd
if dns_start "$CHECK" --health-dir "$TMP/health-none"; then
    q --ecs 192.0.2.0/24 video.cdn.example.test
    expect "packaged geodnsd serves the installed zone (Paris, ECS)" ok rcode=NOERROR +aa an=1
    has "Paris gets PoP fra (127.0.1.1)" '^AN video\.cdn\.example\.test\. [0-9]+ IN A 127\.0\.1\.1$'
    dns_stop
    expect_eq "packaged geodnsd stops on SIGTERM with status 0" "$STOP_STATUS" 0
fi

# The edge config's disk tier is /var/cache/segment-edge (the unit's CacheDirectory); here a
# scratch folder, and a free loopback port instead of the PoP address 127.0.1.1:8080.
EDGE_CONF=$CONF/check-segment-edge.yaml
sed "s#/var/cache/segment-edge#$TMP/edge-cache#" "$CONF/segment-edge.yaml" >"$EDGE_CONF"
EPORT=$(free_port 127.0.0.1)
LOG=$TMP/edge.log
"$ROOT/usr/sbin/segment-edge" -c "$EDGE_CONF" --listen "127.0.0.1:$EPORT" 2>"$LOG" &
SERVER_PID=$!
if wait_log "listening on 127\.0\.0\.1:$EPORT \(edge mode" 10; then
    pass "packaged segment-edge starts with the installed config (edge mode)"
    R=$(curl -s --max-time 5 "http://127.0.0.1:$EPORT/healthz")
    expect_eq "packaged segment-edge answers /healthz" "$R" ok
    expect_eq "its disk tier folder was created" "$([ -d "$TMP/edge-cache" ] && echo yes)" yes
else
    fail "packaged segment-edge starts with the installed config" "$(tail -n 10 "$LOG")"
fi
dns_stop
expect_eq "packaged segment-edge drains and exits 0 on SIGTERM" "$STOP_STATUS" 0
LOG=$TMP/server.log

mkdir -p "$TMP/health"
R=$("$ROOT/usr/sbin/healthcheck" --once -q -c "$CONF/pops.yaml" --vantage pkgtest \
    --out "$TMP/health" --deadline 5 2>&1)
expect_eq "packaged healthcheck --once on the installed pops.yaml: exit 0" "$?" 0 ||
    printf '%s\n' "$R" | head -n 5
R=$(head -c 200 "$TMP/health/pkgtest.json" 2>/dev/null)
has "it wrote the vantage's state file" '"format": *"geodns-health"'

echo "# systemd units"
R=$(grep -h '^ExecStart=' "$ROOT"/usr/lib/systemd/system/*.service)
has "geodnsd.service runs /usr/sbin/geodnsd on /etc/geodns/geodnsd.yaml" \
    '^ExecStart=/usr/sbin/geodnsd -c /etc/geodns/geodnsd\.yaml$'
has "segment-edge.service runs /usr/sbin/segment-edge" \
    '^ExecStart=/usr/sbin/segment-edge -c /etc/geodns/segment-edge\.yaml$'
has "geodns-healthcheck.service runs healthcheck --once" \
    '^ExecStart=/usr/sbin/healthcheck --once .*--out /var/lib/geodns/health$'
R=$(cat "$ROOT/usr/lib/systemd/system/geodnsd.service")
for k in 'User=geodns' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'ProtectSystem=strict' \
    "ExecReload=/bin/kill -HUP \\\$MAINPID"; do
    has "geodnsd.service: $k" "^$k$"
done
# A unit that restarts must give up on a start that keeps failing (a bad config): systemd's
# start limit trips only when StartLimitBurst starts fit in StartLimitIntervalSec (default 5 in
# 10 s), which with RestartSec=2s they never do unless the unit sets its own limit.
unit_secs() { # unit_secs FILE KEY DEFAULT: the key's value in seconds (forms 2s, 2, 1min)
    local v
    v=$(sed -n "s/^$2=//p" "$1" | tail -n 1)
    v=${v:-$3}
    case "$v" in
    *min) echo $((${v%min} * 60)) ;;
    *s) echo "${v%s}" ;;
    *) echo "$v" ;;
    esac
}
for u in "$ROOT"/usr/lib/systemd/system/*.service; do
    grep -qE '^Restart=(on-failure|always|on-abnormal)$' "$u" || continue
    burst=$(unit_secs "$u" StartLimitBurst 5)
    every=$(unit_secs "$u" RestartSec 0.1)
    within=$(unit_secs "$u" StartLimitIntervalSec 10)
    expect_eq "$(basename "$u"): $burst failed starts in a row trip the start limit" \
        "$(awk -v b="$burst" -v r="$every" -v i="$within" 'BEGIN { print (b * r < i) ? "yes" : "no" }')" yes
done
# systemd-analyze verify wants the programs at the ExecStart paths: a copy of the units,
# for verification only, points them into the scratch root. MANPATH lets it find the
# packaged man pages named in Documentation=.
UNITS=$TMP/units
mkdir -p "$UNITS"
for u in "$ROOT"/usr/lib/systemd/system/*; do
    sed "s#^\(Exec[A-Za-z]*=\)/usr/sbin/#\1$ROOT/usr/sbin/#" "$u" >"$UNITS/$(basename "$u")"
done
R=$(cd "$UNITS" && MANPATH=$ROOT/usr/share/man systemd-analyze verify ./*.service ./*.timer 2>&1)
st=$?
expect_eq "systemd-analyze verify of the packaged units: exit 0" "$st" 0
expect_eq "systemd-analyze verify: no warnings" "$R" ""

echo "# man pages"
for page in "$ROOT"/usr/share/man/man*/*.gz; do
    name=$(basename "$page" .gz)
    err=$(man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    expect_eq "man page $name renders without warnings" "$err" ""
done
# Every option of each program's --help is in its man page.
for prog in geodnsd healthcheck segment-edge; do
    text=$(MANWIDTH=200 man -E UTF-8 -l "$ROOT/usr/share/man/man8/$prog.8.gz" 2>/dev/null)
    opts=$("$ROOT/usr/sbin/$prog" --help | grep -oE -- '(^|[ ,(|\[])--?[a-zA-Z][a-zA-Z-]*' |
        sed 's/^[ ,(|[]//' | sort -u)
    missing=""
    for o in $opts; do
        grep -qF -- "$o" <<<"$text" || missing="$missing $o"
    done
    expect_eq "$prog(8) documents every option of $prog --help ($(wc -w <<<"$opts") options)" \
        "${missing# }" ""
done
# Every top-level key of the server config (the list geodnsd checks keys against) is an entry
# of geodnsd.yaml(5)'s KEYS.
keys=$(sed -n '/keys\[\] = {"listen", *"workers"/,/NULL}/p' "$SRC/geodnsd/snapshot.c" | grep -oE '"[a-z_]+"' |
    tr -d '"')
expect_eq "the server config's key list is found in geodnsd/snapshot.c" \
    "$([ "$(wc -w <<<"$keys")" -ge 10 ] && echo yes)" yes
text=$(MANWIDTH=200 man -E UTF-8 -l "$ROOT/usr/share/man/man5/geodnsd.yaml.5.gz" 2>/dev/null |
    sed -n '/^KEYS/,/^FILES/p')
missing=""
for k in $keys; do
    grep -qE "^       ([a-z_]+, )?$k(,| |$)" <<<"$text" || missing="$missing $k"
done
expect_eq "geodnsd.yaml(5) has an entry for every server config key ($(wc -w <<<"$keys") keys)" \
    "${missing# }" ""

finish
