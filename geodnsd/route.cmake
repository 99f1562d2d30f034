# geodnsd/route.cmake: the georoute static library (PoP file, geo policy, routing, memo, explain).
include_guard(GLOBAL)
# Included from geodnsd/CMakeLists.txt; no libuv, no logging.
add_library(georoute STATIC ${CMAKE_CURRENT_LIST_DIR}/pops.c ${CMAKE_CURRENT_LIST_DIR}/route.c)
target_include_directories(georoute PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(georoute PUBLIC geoip common m)
