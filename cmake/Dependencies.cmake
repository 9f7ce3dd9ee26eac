# How each Debian 12 library is found (PEERS.md explains the traps).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)

# mbedTLS 2.28 ships neither a CMake config nor a .pc file.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(lpm_mbedtls INTERFACE)
target_include_directories(lpm_mbedtls SYSTEM INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(lpm_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})

# The C++ msgpack 4.x config; a plain find_package(msgpack) finds the C library instead.
# msgpack-cxx is used header-only (no Boost), so only its include folder is needed.
find_path(MSGPACK_INCLUDE_DIR msgpack.hpp REQUIRED)
add_library(lpm_msgpack INTERFACE)
target_include_directories(lpm_msgpack SYSTEM INTERFACE ${MSGPACK_INCLUDE_DIR})
target_compile_definitions(lpm_msgpack INTERFACE MSGPACK_NO_BOOST MSGPACK_DEFAULT_API_VERSION=3)

# 3.32 or newer: the accounting store's 50-record INSERT binds 1,200 parameters (999 before 3.32).
find_package(SQLite3 3.32 REQUIRED)
find_package(pugixml REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Catch2 2 CONFIG REQUIRED)

# qpdf counts PDF pages (agent/page_count_pdf.cpp); sd-bus from libsystemd shows desktop
# notifications (`lpm notify`, cli/notify_command.cpp) and sd_notify tells systemd a daemon is
# ready (common/service_ready.cpp); libargon2 hashes passwords
# (directory/passwords.cpp). All three ship a .pc file.
pkg_check_modules(LIBQPDF REQUIRED IMPORTED_TARGET libqpdf)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(LIBARGON2 REQUIRED IMPORTED_TARGET libargon2)
# DNS-SD (issue 8, discovery/dnssd.cpp): Bonjour's dns_sd.h, which Avahi's compatibility library
# provides on Linux (package libavahi-compat-libdnssd-dev; PEERS.md).
pkg_check_modules(DNSSD REQUIRED IMPORTED_TARGET avahi-compat-libdns_sd)

# libcups decodes and encodes IPP messages (agent/ipp_*); it ships no .pc file.
find_package(Cups REQUIRED)
# llhttp parses the capture printer's HTTP; built from the sources node-llhttp installs.
include(${CMAKE_CURRENT_LIST_DIR}/Llhttp.cmake)
