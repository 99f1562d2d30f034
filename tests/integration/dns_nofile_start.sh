#!/usr/bin/env bash
# dns_nofile_start: geodnsd started under an open-file limit too low for it. Each limit from 4 up
# to the first at which it serves must end in a clear error naming the limit and exit 1, never a
# crash: before, libuv aborted in its first loop (ulimit -n 4-5), the main loop it could not make
# was used anyway (segfault, 6-8), and a worker's loop too (an assertion in libuv, 16-20).
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

dns_init
CONF=$DATA/geodnsd.yaml
PORT=$(free_port)
MPORT=$(free_port)
CRASHED=
UNCLEAR=
SERVED=
for n in $(seq 4 80); do
    : >"$LOG"
    (
        ulimit -n "$n"
        exec "$GEODNSD" -c "$CONF" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" \
            --metrics "127.0.0.1:$MPORT"
    ) 2>>"$LOG" >/dev/null &
    SERVER_PID=$!
    # It either serves ("geodnsd ready") or ends: wait for one of the two, bounded.
    for _ in $(seq $((100 * DNS_SLOW))); do
        grep -q 'geodnsd ready' "$LOG" && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q 'geodnsd ready' "$LOG"; then
        SERVED=$n
        q www.example.test --type A
        expect "it answers at ulimit -n $n" rcode=NOERROR +aa
        kill "$SERVER_PID"
        wait "$SERVER_PID"
        expect_eq "and stops cleanly" "$?" 0
        SERVER_PID=""
        break
    fi
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        UNCLEAR+=" $n:hung"
        kill -9 "$SERVER_PID"
    fi
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=""
    # 127: the shell could not even exec geodnsd (the loader found no descriptor for a library).
    [ "$rc" = 127 ] && continue
    if [ "$rc" -gt 128 ] && ! grep -q "LeakSanitizer has encountered a fatal error" "$LOG"; then
        # Under ASan, LeakSanitizer needs a descriptor of its own at exit and aborts without
        # one: that status is the sanitizer's, not geodnsd's.
        CRASHED+=" $n:$rc"
    elif [ "$rc" -ne 1 ] && ! grep -q "LeakSanitizer" "$LOG"; then
        UNCLEAR+=" $n:exit$rc"
    elif ! grep -Eiq 'error: .*(too many open files|open-file limit)' "$LOG"; then
        UNCLEAR+=" $n:$(grep -m1 error "$LOG" | cut -c1-80)"
    fi
    grep -q 'runtime error\|AddressSanitizer' "$LOG" && CRASHED+=" $n:sanitizer"
done
check "a limit was found at which it serves (ulimit -n $SERVED)" test -n "$SERVED"
expect_eq "no limit below it crashes geodnsd" "$CRASHED" ""
expect_eq "each ends with status 1 and an error about open files" "$UNCLEAR" ""
finish
