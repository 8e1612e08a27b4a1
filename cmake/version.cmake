# Run at every build (cmake -P): writes OUT, a C file that defines
# nrfca_version_string(), from VERSION (CMake's project() version) and, when
# SRC is a git checkout and git is installed, `git describe --always --dirty`.
# configure_file rewrites OUT only when the text changes, so an unchanged
# version recompiles nothing.
set(NRFCA_VERSION_FULL "${VERSION}")
find_program(GIT git)
if(GIT AND EXISTS "${SRC}/.git")
  execute_process(COMMAND ${GIT} -C "${SRC}" describe --always --dirty --tags
                  OUTPUT_VARIABLE d RESULT_VARIABLE r ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(r EQUAL 0 AND NOT d STREQUAL "")
    set(NRFCA_VERSION_FULL "${VERSION} (git ${d})")
  endif()
endif()
configure_file("${IN}" "${OUT}" @ONLY)
