# cmake/install.cmake: `cmake --install` layout and the Debian package (`cpack -G DEB`); the
# layout, the choices and the package's scripts are described in docs/install.md.
include_guard(GLOBAL)
include(GNUInstallDirs)

# Programs. All three are system programs run by the geodns user or an operator: sbin (and
# man section 8). healthcheck goes there too: it is the daemons' prober, run from a timer or
# cron, and its generic name stays out of ordinary users' PATH.
foreach(t geodnsd segment-edge healthcheck)
    if(TARGET ${t})
        install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
    endif()
endforeach()

# Man pages, compressed as Debian ships them (gzip -n: no name or time stamp in the file).
find_program(GEODNS_GZIP gzip REQUIRED)
set(GEODNS_MAN_PAGES geodnsd.8 healthcheck.8 segment-edge.8 geodnsd.yaml.5)
set(man_outputs "")
foreach(page ${GEODNS_MAN_PAGES})
    set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
    add_custom_command(
        OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND ${GEODNS_GZIP} -9 -n -c ${CMAKE_SOURCE_DIR}/docs/man/${page} > ${out}
        DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page}
        COMMENT "Compressing man page ${page}")
    list(APPEND man_outputs ${out})
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${man_outputs})

# The example GeoIP database (tools/mmdb.cmake) and the documentation.
install(FILES ${GEODNS_EXAMPLE_MMDB} DESTINATION ${CMAKE_INSTALL_DATADIR}/geodns)
file(GLOB geodns_docs ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${geodns_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Configuration, examples and systemd units name absolute paths (the database, the state
# directory, the programs), which depend on the prefix given at install time
# (`cmake --install build --prefix /usr`, or /usr for the package): cmake/install-files.cmake
# writes them then, from zones/ and packaging/.
install(CODE "
    set(GEODNS_SRC \"${CMAKE_SOURCE_DIR}\")
    set(GEODNS_STAGE \"${CMAKE_BINARY_DIR}/install-files\")
    set(GEODNS_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
    set(GEODNS_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
    set(GEODNS_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
    include(\"${CMAKE_CURRENT_LIST_DIR}/install-files.cmake\")
")

# The Debian package: `cpack --config build/CPackConfig.cmake` writes geodns_VERSION_ARCH.deb.
file(STRINGS ${CMAKE_SOURCE_DIR}/geodnsd/main.c version_line
     REGEX "^#define GEODNSD_VERSION +\"[0-9.]+\"")
string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" GEODNS_VERSION "${version_line}")
if(NOT GEODNS_VERSION)
    message(FATAL_ERROR "cmake/install.cmake: no GEODNSD_VERSION in geodnsd/main.c")
endif()
set(GEODNS_PACKAGE_MAINTAINER "geodns maintainers <geodns@example.test>"
    CACHE STRING "Maintainer field of the Debian package")

# The files under /etc/geodns that dpkg keeps when the operator has changed them.
set(GEODNS_CONFFILES geodnsd.yaml pops.yaml cdn.example.test.yaml admin.yaml segment-edge.yaml)
set(conffiles "")
foreach(f ${GEODNS_CONFFILES})
    string(APPEND conffiles "/etc/geodns/${f}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME geodns)
set(CPACK_PACKAGE_VERSION ${GEODNS_VERSION})
set(CPACK_PACKAGE_CONTACT "${GEODNS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GeoDNS request router and HLS/DASH edge for a streaming CDN")
set(CPACK_PACKAGE_DESCRIPTION
    "geodnsd is an authoritative DNS server that answers CDN hostnames with the nearest\n\
healthy PoP for each viewer. healthcheck probes the PoPs for it, and segment-edge is\n\
an HLS/DASH origin and caching edge. No service is enabled on installation.")
# DESTDIR staging: the install scripts see the real prefix (/usr) and write /etc/geodns.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps (dpkg-dev); adduser is for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/debian/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
