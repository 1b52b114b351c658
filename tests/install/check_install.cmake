# Installs swarmsync into a scratch prefix and builds a consumer that uses find_package(swarmsync).
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}")
  endif()
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DSWARMSYNC_BUILD_TESTS=OFF -DSWARMSYNC_BUILD_EXAMPLES=OFF -DSWARMSYNC_BUILD_CORE=OFF
    -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)  # the NATS transport is a compiled library
run(${CMAKE_COMMAND} --install ${WORK_DIR}/build)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
run(${WORK_DIR}/consumer/runtime_consumer)
# The channels component alone: spdlog is neither looked for nor needed.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/channels_consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_COMPONENT=channels -DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/channels_consumer)
run(${WORK_DIR}/channels_consumer/channels_consumer)
# An unknown component is refused, by name.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/bogus_consumer
                        -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_COMPONENT=bogus
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0 OR NOT out MATCHES "swarmsync has no component 'bogus'")
  message(FATAL_ERROR "an unknown component was not refused by name:\n${out}")
endif()
if(EXISTS ${WORK_DIR}/consumer/nats_consumer)
  run(${WORK_DIR}/consumer/nats_consumer)
endif()
if(EXISTS ${WORK_DIR}/consumer/observe_consumer)
  run(${WORK_DIR}/consumer/observe_consumer)
endif()
# The README shows the consumer's complete program as it is: the same text, so the README's
# program is the one built and run here.
file(READ ${SOURCE_DIR}/README.md readme)
file(READ ${SOURCE_DIR}/tests/install/consumer/main.cpp program)
string(FIND "${readme}" "```cpp\n${program}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not show tests/install/consumer/main.cpp as it is (in a ```cpp block)")
endif()
