#!/usr/bin/env bash
# edge_nofile_start: segment-edge started under an open-file limit too low for it. Each limit
# from 4 up to the first at which it serves must end in a clear error naming the limit and exit
# 1, never a crash: before, the default loop libuv could not make was used anyway (segfaults at
# ulimit -n 4 and 7-9) or libuv aborted inside its set-up (5-6).
. "$(dirname "$0")/../lib/edge-lib.sh"
. "$SRC/tests/lib/nofile.sh"

mkdir -p "$T/root"
echo hello >"$T/root/x.txt"
SLOW=1
nm -an "$EDGE" 2>/dev/null | grep -q __asan_init && SLOW=3
for _ in 1 2 3; do
    PE=$(free_port)
    PS=$(free_port)
    nofile_walk "$T/edge.log" 'listening on' "$SLOW" "$EDGE" --listen "127.0.0.1:$PE" \
        --status-listen "127.0.0.1:$PS" --root "$T/root" --workers 2
    [ $? = 2 ] || break # 2: a port was taken meanwhile, go on with others
done
check "a limit was found at which it starts (ulimit -n $NOFILE_SERVED)" test -n "$NOFILE_SERVED"
if [ -n "$NOFILE_PID" ]; then
    EDGE_PIDS+=("$NOFILE_PID")
    # At that limit it may have no descriptor left for a client (accepting then pauses): it
    # must not die of a request.
    curl -s -o /dev/null -m 5 "http://127.0.0.1:$PE/x.txt"
    check "a request at that limit does not end it" kill -0 "$NOFILE_PID"
    kill -TERM "$NOFILE_PID"
    wait "$NOFILE_PID"
    expect_eq "and it stops cleanly" "$?" 0
    # With a few descriptors more it serves.
    (ulimit -n $((NOFILE_SERVED + 8)) && exec "$EDGE" --listen "127.0.0.1:$PE" \
        --root "$T/root" --workers 2) 2>"$T/edge8.log" &
    EDGE_PIDS+=("$!")
    wait_listening edge8 "$!"
    expect_eq "8 descriptors more and it serves" "$(curl -s -m 10 "http://127.0.0.1:$PE/x.txt")" hello
fi
expect_eq "no limit below it crashes segment-edge" "$NOFILE_CRASHED" ""
expect_eq "each ends with status 1 and an error about open files" "$NOFILE_UNCLEAR" ""
finish
