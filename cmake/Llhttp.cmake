# llhttp, the HTTP/1.1 parser of the agent's IPP capture printer (agent/ipp_http.*).
#
# Debian packages llhttp only as node-llhttp, which installs the generated C sources
# (llhttp.c, api.c, http.c) and the header, not a library: we compile them into the static
# library lpm_llhttp here. It is third-party code, so it gets neither our warning set nor
# -Werror, and its header is a SYSTEM include (its warnings never reach our targets).
set(LPM_LLHTTP_SOURCE_DIR "/usr/share/llhttp" CACHE PATH
    "folder with llhttp.c, api.c and http.c (installed by the Debian package node-llhttp)")
set(LPM_LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH
    "folder with llhttp.h (installed by the Debian package node-llhttp)")

foreach(file llhttp.c api.c http.c)
  if(NOT EXISTS "${LPM_LLHTTP_SOURCE_DIR}/${file}")
    message(FATAL_ERROR
      "llhttp: ${LPM_LLHTTP_SOURCE_DIR}/${file} is missing. Install the Debian package node-llhttp "
      "(apt-get install --no-install-recommends node-llhttp), or point LPM_LLHTTP_SOURCE_DIR at "
      "the llhttp C sources.")
  endif()
endforeach()
if(NOT EXISTS "${LPM_LLHTTP_INCLUDE_DIR}/llhttp.h")
  message(FATAL_ERROR
    "llhttp: ${LPM_LLHTTP_INCLUDE_DIR}/llhttp.h is missing. Install the Debian package node-llhttp "
    "(apt-get install --no-install-recommends node-llhttp), or point LPM_LLHTTP_INCLUDE_DIR at "
    "the folder holding llhttp.h.")
endif()

add_library(lpm_llhttp STATIC
  ${LPM_LLHTTP_SOURCE_DIR}/llhttp.c
  ${LPM_LLHTTP_SOURCE_DIR}/api.c
  ${LPM_LLHTTP_SOURCE_DIR}/http.c)
target_include_directories(lpm_llhttp SYSTEM PUBLIC ${LPM_LLHTTP_INCLUDE_DIR})
# Its three C files define the same static callbacks, so they are never built as one unity file.
set_target_properties(lpm_llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON UNITY_BUILD OFF)
# The generated parser is large; whatever it would warn about is upstream's business.
target_compile_options(lpm_llhttp PRIVATE -w)
