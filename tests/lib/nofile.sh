# nofile.sh: start a server under each open-file limit from 4 up until it serves (sourced by
# dns_nofile_start and edge_nofile_start, after assert-lib.sh).
#
# nofile_walk LOG READY SLOW CMD...: for n = NOFILE_FROM (4 at first), NOFILE_FROM + 1, ... run
# CMD under `ulimit -n n`, its stderr in LOG, until a line of LOG matches READY (grep -E): then
# NOFILE_SERVED=n and NOFILE_PID is the running server, for the caller to check and stop; returns
# 0. When CMD's port is taken by someone else meanwhile (LOG says "in use"), returns 2 with
# NOFILE_FROM=n: call again with new ports, the walk goes on from there. Below that, each run must end by itself
# (within 10 s x SLOW) with status 1 and an error line about open files: NOFILE_CRASHED lists
# "n:status" of runs killed by a signal or a sanitizer report, NOFILE_UNCLEAR those that hung,
# ended otherwise or said nothing of open files. Status 127 (the shell could not exec CMD at all:
# the loader found no descriptor for a library) is skipped. Under ASan, LeakSanitizer needs a
# descriptor of its own at exit and aborts without one: that status is the sanitizer's.
nofile_walk() {
    local log=$1 ready=$2 slow=$3 n rc pid
    shift 3
    NOFILE_SERVED= NOFILE_PID=
    for n in $(seq "$NOFILE_FROM" 100); do
        : >"$log"
        (ulimit -n "$n" && exec "$@") 2>>"$log" >/dev/null &
        pid=$!
        for _ in $(seq $((100 * slow))); do
            grep -Eq "$ready" "$log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if grep -Eq "$ready" "$log"; then
            NOFILE_SERVED=$n NOFILE_PID=$pid
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null; then
            NOFILE_UNCLEAR+=" $n:hung"
            kill -9 "$pid"
        fi
        wait "$pid"
        rc=$?
        [ "$rc" = 127 ] && continue
        if grep -qi 'in use' "$log"; then
            NOFILE_FROM=$n
            return 2
        fi
        if grep -q 'runtime error\|AddressSanitizer' "$log"; then
            NOFILE_CRASHED+=" $n:sanitizer"
        elif grep -q 'LeakSanitizer has encountered a fatal error' "$log"; then
            :
        elif [ "$rc" -gt 128 ]; then
            NOFILE_CRASHED+=" $n:$rc"
        elif [ "$rc" -ne 1 ]; then
            NOFILE_UNCLEAR+=" $n:exit$rc"
        fi
        grep -Eiq 'error: .*(too many open files|open-file limit)' "$log" ||
            NOFILE_UNCLEAR+=" $n:$(grep -m1 -i error "$log" | cut -c1-80)"
    done
    return 1
}
NOFILE_FROM=4
NOFILE_CRASHED=
NOFILE_UNCLEAR=
