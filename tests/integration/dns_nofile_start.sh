#!/usr/bin/env bash
# dns_nofile_start: geodnsd started under an open-file limit too low for it. Each limit from 4 up
# to the first at which it serves must end in a clear error naming the limit and exit 1, never a
# crash: before, libuv aborted in its first loop (ulimit -n 4-5), the main loop it could not make
# was used anyway (segfault, 6-8), and a worker's loop too (an assertion in libuv, 16-29).
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"
. "$SRC/tests/lib/nofile.sh"

dns_init
for _ in 1 2 3; do
    PORT=$(free_port)
    MPORT=$(free_port)
    nofile_walk "$LOG" 'geodnsd ready' "$DNS_SLOW" "$GEODNSD" -c "$DATA/geodnsd.yaml" \
        --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" --metrics "127.0.0.1:$MPORT"
    [ $? = 2 ] || break # 2: a port was taken meanwhile, go on with others
done
check "a limit was found at which it serves (ulimit -n $NOFILE_SERVED)" test -n "$NOFILE_SERVED"
if [ -n "$NOFILE_PID" ]; then
    SERVER_PID=$NOFILE_PID
    q www.example.test --type A
    expect "it answers" rcode=NOERROR +aa
    dns_stop
    expect_eq "and stops cleanly" "$STOP_STATUS" 0
fi
expect_eq "no limit below it crashes geodnsd" "$NOFILE_CRASHED" ""
expect_eq "each ends with status 1 and an error about open files" "$NOFILE_UNCLEAR" ""
finish
