# fuzz.cmake: geodns_fuzz_target(NAME SOURCES ... LIBS ... CORPUS DIR) defines a fuzz harness
# (LLVMFuzzerTestOneInput). With GEODNS_FUZZ (clang) it is a libFuzzer binary run by ctest for
# GEODNS_FUZZ_SECONDS on a copy of its seed corpus (label fuzz). Without it, the same harness
# is linked with a replay main() and ctest feeds it every seed (label unit), so the gcc and
# sanitizer builds exercise it too.
set(GEODNS_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzz target runs under ctest -L fuzz")

if(GEODNS_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "GEODNS_FUZZ needs clang (CC=clang)")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
endif()

function(geodns_fuzz_target name)
    cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
    if(GEODNS_FUZZ)
        add_executable(fuzz_${name} ${F_SOURCES})
        target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS})
        target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
        set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
        add_test(NAME fuzz.${name}
            COMMAND sh -c "rm -rf '${work}' && mkdir -p '${work}' && cp -r '${F_CORPUS}'/. '${work}'/ && exec '$<TARGET_FILE:fuzz_${name}>' -max_total_time=${GEODNS_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${work}'")
        set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz
            TIMEOUT 900)
    else()
        add_executable(replay_${name} ${F_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
        target_link_libraries(replay_${name} PRIVATE ${F_LIBS})
        add_test(NAME unit.replay_${name} COMMAND replay_${name} ${F_CORPUS})
        set_tests_properties(unit.replay_${name} PROPERTIES LABELS unit)
    endif()
endfunction()
