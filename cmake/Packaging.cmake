# Debian packages, one per component (issue 7): `cmake --build B --target package` (or
# `make debs`) writes lpm-agent_*.deb, lpm-directory_*.deb, lpm-accounting_*.deb,
# lpm-release_*.deb and lpm-cli_*.deb into the build tree. dpkg-shlibdeps fills in the Debian 12
# runtime libraries each binary links; the services' units come from packaging/systemd/ and their
# maintainer scripts from packaging/debian/ (docs/packaging.md).

set(CPACK_COMPONENTS_ALL)

# lpm_deb(COMPONENT PACKAGE BINARY README SUMMARY [ACCOUNT PURGE]): one package. With ACCOUNT it
# is a service: its unit, and maintainer scripts that make that system account; PURGE (yes/no)
# says whether `dpkg --purge` deletes /var/lib/ACCOUNT.
function(lpm_deb component package binary readme summary)
  string(TOUPPER ${component} upper)
  set(CPACK_COMPONENTS_ALL ${CPACK_COMPONENTS_ALL} ${component} PARENT_SCOPE)
  install(TARGETS ${binary} RUNTIME DESTINATION bin COMPONENT ${component})
  install(FILES ${PROJECT_SOURCE_DIR}/${readme} DESTINATION share/doc/${package} COMPONENT ${component})
  set(CPACK_DEBIAN_${upper}_PACKAGE_NAME ${package} PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_DESCRIPTION "${summary}" PARENT_SCOPE)
  set(CPACK_COMPONENT_${upper}_DESCRIPTION "${summary}" PARENT_SCOPE)
  if(ARGC GREATER 5)
    set(LPM_PACKAGE ${package})
    set(LPM_USER ${ARGV5})
    set(LPM_PURGE_DATA ${ARGV6})
    install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/${package}.service DESTINATION lib/systemd/system
            COMPONENT ${component})
    set(scripts)
    foreach(script postinst prerm postrm)
      configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${script}.in
                     ${CMAKE_BINARY_DIR}/debian/${component}/${script} @ONLY
                     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                      WORLD_READ WORLD_EXECUTE)
      list(APPEND scripts ${CMAKE_BINARY_DIR}/debian/${component}/${script})
    endforeach()
    set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA "${scripts}" PARENT_SCOPE)
    set(CPACK_DEBIAN_${upper}_PACKAGE_DEPENDS "adduser" PARENT_SCOPE)
  endif()
endfunction()

lpm_deb(agent lpm-agent lpm-agent agent/README.md
        "LPM workstation agent: holds print jobs until their owner badges in at a printer" lpm-agent yes)
lpm_deb(directory lpm-directory lpm-directory directory/README.md
        "LPM directory: users, badges, roles, workstations and release tickets" lpm-directory no)
lpm_deb(accounting lpm-accounting lpm-accounting accounting/README.md
        "LPM accounting server: printed and deleted job records, reports" lpm-accounting no)
lpm_deb(release lpm-release lpm-release printer/README.md
        "LPM release station: badge in at a printer, pull jobs from workstations" lpm-release yes)
lpm_deb(cli lpm-cli lpm cli/README.md "LPM command-line tool for users, administrators and helpdesk")

# The agent's install.sh makes the print queue with lpadmin, where CUPS runs; agents advertise
# and stations browse the LAN through an mDNS daemon (issue 8, discovery/).
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "cups-client, avahi-daemon")
set(CPACK_DEBIAN_RELEASE_PACKAGE_RECOMMENDS "avahi-daemon")
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS "lpm-agent")

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_PACKAGE_NAME lpm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "LPM maintainers <lpm@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 0)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/debs)
include(CPack)
