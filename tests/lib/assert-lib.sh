# assert-lib.sh: the assertions of the shell tests (tests/integration, tests/e2e). Sourced by
# dns-lib.sh and edge-lib.sh (and so by geo-lib.sh); a test sources one of those, not this file.
# Each name has one meaning, the same in every test:
#
#   pass DESC               a check held: prints "ok   - DESC", counted as passed. Returns 0.
#   fail DESC [DETAIL]      a check did not hold: prints "FAIL - DESC", then DETAIL (any number
#                           of lines) indented with "       | ", counted as failed. Returns 0,
#                           so the test goes on to its next check.
#   skip DESC REASON        a check that cannot run here (a tool is missing): prints
#                           "skip - DESC (REASON)", counted as skipped, neither passed nor failed.
#   check DESC CMD...       runs CMD: pass if it exits 0, else fail (the command in the detail).
#   expect_eq DESC GOT WANT        pass if GOT and WANT are the same string, else fail.
#   expect_match DESC TEXT REGEX   pass if a line of TEXT matches REGEX (grep -E, ignoring
#                                  case), else fail with the start of TEXT.
#   verdict DESC BAD [DETAIL]      the end of a check that collects what is wrong in BAD: pass
#                                  if BAD is empty, else fail with "got:BAD" and DETAIL.
#                           check, expect_* and verdict return 0 when the check held, 1 when it
#                           failed.
#   checks_from FILE        counts the checks a helper script (Python) printed into FILE, one
#                           per line: "ok: DESC" passes, "FAIL: DESC" fails, other lines ignored.
#   die DESC [DETAIL]       the test cannot go on (its set-up failed): fail, then exit 1 (the
#                           test's EXIT trap stops its servers).
#   finish                  the end of a test: prints "== NAME: P passed, F failed, S skipped"
#                           and the failed checks; calls the function named in ASSERT_ON_FAIL
#                           (if set) when a check failed, then exits 1 if one failed, else 0.
#
# State: ASSERT_PASS, ASSERT_FAIL, ASSERT_SKIP (counters), ASSERT_FAILED (the failed DESCs).

ASSERT_PASS=0
ASSERT_FAIL=0
ASSERT_SKIP=0
ASSERT_FAILED=()
: "${ASSERT_ON_FAIL:=}"

pass() {
    ASSERT_PASS=$((ASSERT_PASS + 1))
    printf 'ok   - %s\n' "$1"
}

fail() {
    ASSERT_FAIL=$((ASSERT_FAIL + 1))
    ASSERT_FAILED+=("$1")
    printf 'FAIL - %s\n' "$1"
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" | sed 's/^/       | /'
    fi
    return 0
}

skip() {
    ASSERT_SKIP=$((ASSERT_SKIP + 1))
    printf 'skip - %s (%s)\n' "$1" "${2:-}"
}

check() {
    local desc=$1
    shift
    if "$@"; then
        pass "$desc"
    else
        fail "$desc" "command failed: $*"
        return 1
    fi
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "got '$2', want '$3'"
        return 1
    fi
}

expect_match() {
    if printf '%s\n' "$2" | grep -qiE -- "$3"; then
        pass "$1"
    else
        fail "$1" "no line matches /$3/ in: $(printf '%s' "$2" | head -c 600)"
        return 1
    fi
}

verdict() {
    if [ -z "$2" ]; then
        pass "$1"
    else
        fail "$1" "got:$2${3:+
$3}"
        return 1
    fi
}

checks_from() {
    local line
    while IFS= read -r line; do
        case $line in
        "ok: "*) pass "${line#ok: }" ;;
        "FAIL: "*) fail "${line#FAIL: }" ;;
        esac
    done <"$1"
}

die() {
    fail "$@"
    exit 1
}

finish() {
    echo "== $(basename "$0" .sh): $ASSERT_PASS passed, $ASSERT_FAIL failed, $ASSERT_SKIP skipped"
    if [ "$ASSERT_FAIL" -gt 0 ]; then
        printf '   failed: %s\n' "${ASSERT_FAILED[@]}"
        if [ -n "$ASSERT_ON_FAIL" ]; then
            "$ASSERT_ON_FAIL"
        fi
        exit 1
    fi
    exit 0
}
