# tools/mmdb.cmake: builds the example GeoIP2-City database ${CMAKE_BINARY_DIR}/example-city.mmdb.
# Include from the top-level CMakeLists.txt: include(tools/mmdb.cmake)
include_guard(GLOBAL)
find_program(GEODNS_PERL perl REQUIRED)
set(GEODNS_EXAMPLE_MMDB ${CMAKE_BINARY_DIR}/example-city.mmdb)
add_custom_command(
    OUTPUT ${GEODNS_EXAMPLE_MMDB}
    COMMAND ${GEODNS_PERL} ${CMAKE_CURRENT_LIST_DIR}/make-example-mmdb.pl ${GEODNS_EXAMPLE_MMDB}
    DEPENDS ${CMAKE_CURRENT_LIST_DIR}/make-example-mmdb.pl
    COMMENT "Writing example GeoIP database example-city.mmdb"
    VERBATIM)
add_custom_target(example_mmdb ALL DEPENDS ${GEODNS_EXAMPLE_MMDB})
