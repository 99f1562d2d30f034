# cmake/install-files.cmake: run by `cmake --install` (see cmake/install.cmake): writes the
# configuration, the examples and the systemd units with the absolute paths of this prefix.
# In: CMAKE_INSTALL_PREFIX (the prefix being installed to), GEODNS_SRC (source tree),
# GEODNS_STAGE (scratch folder in the build tree), GEODNS_SBINDIR, GEODNS_DATADIR,
# GEODNS_DOCDIR (relative to the prefix). DESTDIR is honoured (file(INSTALL) prepends it).

# Where the configuration goes for this prefix: /etc/geodns for /usr; for a package of its own
# under /opt (/opt/geodns) the FHS's /etc/opt/geodns (the folder is the package's already, so no
# second geodns/ below it); else under the prefix. The state and cache directories are systemd's
# StateDirectory= (always under /var/lib).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
    set(confdir /etc/geodns)
elseif(prefix MATCHES "^/opt/")
    set(confdir /etc${prefix})
else()
    set(confdir ${prefix}/etc/geodns)
endif()
set(statedir /var/lib/geodns)
set(sbindir ${prefix}/${GEODNS_SBINDIR})
set(mmdb ${prefix}/${GEODNS_DATADIR}/geodns/example-city.mmdb)
set(unitdir ${prefix}/lib/systemd/system)

# replace_checked(VAR REGEX REPLACEMENT WHAT): regex replace in VAR; a pattern that no longer
# matches (the source file changed shape) stops the install instead of shipping a wrong file.
function(replace_checked var regex replacement what)
    if(NOT "${${var}}" MATCHES "${regex}")
        message(FATAL_ERROR "install-files.cmake: ${what}: /${regex}/ not found")
    endif()
    string(REGEX REPLACE "${regex}" "${replacement}" new "${${var}}")
    set(${var} "${new}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${GEODNS_STAGE})
file(MAKE_DIRECTORY ${GEODNS_STAGE}/etc ${GEODNS_STAGE}/units)

# geodnsd.yaml: the example server config, with the installed database and the state
# directory healthcheck writes (zones/geodnsd.yaml names the build tree's database and a
# health folder next to it, for the demo). The comments above those two keys describe the
# source tree's set-up, so they are replaced too.
file(READ ${GEODNS_SRC}/zones/geodnsd.yaml text)
replace_checked(text "(#[^\n]*\n)*geoip: *{ *mmdb: *[^,} \n]+"
    "# The example GeoIP database, installed with the package. For a real one, point mmdb at\n\
# GeoLite2-City.mmdb (schema geoip2-city) or dbip-city-lite.mmdb (dbip-city-lite), geo.md.\n\
geoip: {mmdb: ${mmdb}"
    "zones/geodnsd.yaml geoip.mmdb")
replace_checked(text "(#[^\n]*\n)*health: *{ *dir: *[^,} \n]+"
    "# Health and capacity: geodns-healthcheck.timer (or cron) writes one state file per vantage\n\
# into ${statedir}/health; admin.yaml forces PoPs down, up or drains them (health.md).\n\
health: {dir: ${statedir}/health"
    "zones/geodnsd.yaml health.dir")
# A round a minute from the timer: a vantage stays fresh for two and a half rounds
# (docs/healthcheck.md, Cron).
replace_checked(text "max_age: *[^,} \n]+" "max_age: 150s" "zones/geodnsd.yaml health.max_age")
file(WRITE ${GEODNS_STAGE}/etc/geodnsd.yaml
     "# Installed from zones/geodnsd.yaml with the installed paths (install.md in\n# ${prefix}/${GEODNS_DOCDIR}).\n${text}")

configure_file(${GEODNS_SRC}/packaging/segment-edge.yaml ${GEODNS_STAGE}/etc/segment-edge.yaml
               COPYONLY)
foreach(f pops.yaml cdn.example.test.yaml admin.yaml)
    configure_file(${GEODNS_SRC}/zones/${f} ${GEODNS_STAGE}/etc/${f} COPYONLY)
endforeach()

# The configuration: a direct install (no DESTDIR) keeps files an operator may have edited;
# a staged install (DESTDIR, as cpack does) always writes them.
file(GLOB conf_files ${GEODNS_STAGE}/etc/*.yaml)
foreach(f ${conf_files})
    get_filename_component(name ${f} NAME)
    if("$ENV{DESTDIR}" STREQUAL "" AND EXISTS ${confdir}/${name})
        message(STATUS "Keeping: ${confdir}/${name} (the new default is in "
                       "${prefix}/${GEODNS_DOCDIR}/examples)")
    else()
        file(INSTALL ${f} DESTINATION ${confdir})
    endif()
endforeach()
file(INSTALL ${conf_files} DESTINATION ${prefix}/${GEODNS_DOCDIR}/examples)

# The systemd units name /usr/sbin and /etc/geodns; other prefixes get their own paths.
file(GLOB units ${GEODNS_SRC}/packaging/*.service ${GEODNS_SRC}/packaging/*.timer)
foreach(u ${units})
    get_filename_component(name ${u} NAME)
    file(READ ${u} text)
    string(REPLACE "/usr/sbin/" "${sbindir}/" text "${text}")
    string(REPLACE "/etc/geodns/" "${confdir}/" text "${text}")
    string(REPLACE "file:///usr/share/doc/geodns/" "file://${prefix}/${GEODNS_DOCDIR}/" text
           "${text}")
    file(WRITE ${GEODNS_STAGE}/units/${name} "${text}")
    file(INSTALL ${GEODNS_STAGE}/units/${name} DESTINATION ${unitdir})
endforeach()
