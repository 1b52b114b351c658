# Installs the build tree that ran the tests (the Core's program included) into a scratch prefix
# and runs the installed swarmsync-core.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed:\n${out}")
endif()
set(program ${WORK_DIR}/prefix/bin/swarmsync-core)
if(NOT EXISTS ${program})
  message(FATAL_ERROR "cmake --install did not install ${program}")
endif()
execute_process(COMMAND ${program} --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "the installed swarmsync-core --version said (exit ${rc}): ${out}")
endif()
message(STATUS "installed ${program}: ${out}")
