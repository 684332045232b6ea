# FindEspeakNG: Debian ships only a pkg-config file for libespeak-ng, so labelrep finds it itself.
# Provides EspeakNG::espeak-ng and EspeakNG_FOUND. The header labelrep uses is espeak-ng/speak_lib.h.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_ESPEAKNG QUIET espeak-ng)
endif()
find_path(EspeakNG_INCLUDE_DIR espeak-ng/speak_lib.h HINTS ${PC_ESPEAKNG_INCLUDE_DIRS})
find_library(EspeakNG_LIBRARY NAMES espeak-ng HINTS ${PC_ESPEAKNG_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(EspeakNG REQUIRED_VARS EspeakNG_LIBRARY EspeakNG_INCLUDE_DIR
  VERSION_VAR PC_ESPEAKNG_VERSION)
if(EspeakNG_FOUND AND NOT TARGET EspeakNG::espeak-ng)
  add_library(EspeakNG::espeak-ng UNKNOWN IMPORTED)
  set_target_properties(EspeakNG::espeak-ng PROPERTIES IMPORTED_LOCATION "${EspeakNG_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${EspeakNG_INCLUDE_DIR}")
endif()
mark_as_advanced(EspeakNG_INCLUDE_DIR EspeakNG_LIBRARY)
