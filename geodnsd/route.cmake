# geodnsd/route.cmake: the georoute static library (PoP file, geo policy, routing, memo, explain).
# Included from geodnsd/CMakeLists.txt; no libuv, no logging.
include_guard(GLOBAL)
add_library(georoute STATIC ${CMAKE_CURRENT_LIST_DIR}/pops.c ${CMAKE_CURRENT_LIST_DIR}/route.c)
target_include_directories(georoute PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(georoute PUBLIC geoip common m)

# The YAML parsers' fuzz harness, through cmake/fuzz.cmake: a libFuzzer target (label fuzz) with
# GEODNS_FUZZ, otherwise a replay of the seed corpus (unit.replay_geo_yaml, label unit).
if(COMMAND geodns_fuzz_target)
    geodns_fuzz_target(geo_yaml SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/geo_yaml.c LIBS georoute
        CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/geo_yaml)
endif()
