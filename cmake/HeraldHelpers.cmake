# Uniform helpers for Herald targets: one library per folder, tests next to
# the code, benchmarks in bench/.

# herald_cc_library(NAME name SRCS ... DEPS ...)
# Creates herald_<name> with alias herald::<name>; the repo root is the
# include root so headers are included as "folder/file.h".
function(herald_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(herald_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(herald::${ARG_NAME} ALIAS herald_${ARG_NAME})
  target_include_directories(herald_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/proto_gen)
  target_link_libraries(herald_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# herald_cc_test(NAME name SRCS ... DEPS ... [LABELS ...])
function(herald_cc_test)
  if(NOT HERALD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "HERALD_BINARY_DIR=${PROJECT_BINARY_DIR};HERALD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
  # Integration tests run a second time against a one-node Redis Cluster
  # (tests/support/redis_fixture.h), which refuses any command or script
  # touching two slots: Herald's Cluster-readiness is checked, not hoped for.
  if("integration" IN_LIST ARG_LABELS)
    add_test(NAME ${ARG_NAME}_on_cluster COMMAND ${ARG_NAME})
    set_tests_properties(${ARG_NAME}_on_cluster PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS};cluster"
      ENVIRONMENT "HERALD_BINARY_DIR=${PROJECT_BINARY_DIR};HERALD_SOURCE_DIR=${PROJECT_SOURCE_DIR};HERALD_TEST_REDIS_CLUSTER=1")
  endif()
endfunction()

# herald_cc_bench(NAME name SRCS ... DEPS ...)
function(herald_cc_bench)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()

# herald_cc_fuzzer(NAME name SRCS ... DEPS ... CORPUS dir [DICT file])
# A libFuzzer target (LLVMFuzzerTestOneInput). With HERALD_FUZZ (clang,
# scripts/fuzz) it links libFuzzer; otherwise it links the replay driver and
# runs as a bounded test over the corpus and its mutations.
function(herald_cc_fuzzer)
  cmake_parse_arguments(ARG "" "NAME;CORPUS;DICT" "SRCS;DEPS" ${ARGN})
  if(HERALD_FUZZ)
    add_executable(${ARG_NAME} ${ARG_SRCS})
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
    target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
    return()
  endif()
  if(NOT HERALD_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/tests/support/fuzz_replay_main.cc)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} ${ARG_CORPUS} ${ARG_DICT} --runs=200000
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT 300)
endfunction()

# herald_lua_scripts(TARGET target SCRIPTS name.lua ...)
# Embeds each Lua script of this folder at build time as the header
# "<folder>/<name>.lua.h" (see cmake/EmbedLua.cmake), defining
# herald::lua::k<Folder><Name>. Each script is one file next to the module
# that owns it, starts with `#!lua` and may `--!include` shared Lua.
function(herald_lua_scripts)
  cmake_parse_arguments(ARG "" "TARGET" "SCRIPTS" ${ARGN})
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(headers)
  foreach(script ${ARG_SCRIPTS})
    string(REGEX REPLACE "\\.lua$" "" stem ${script})
    set(header ${PROJECT_BINARY_DIR}/lua/${folder}/${stem}.lua.h)
    # Included files are dependencies too; editing an include line re-runs configure.
    file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/${script} include_lines REGEX "^--!include ")
    set(included)
    foreach(line ${include_lines})
      string(REGEX REPLACE "^--!include " "" path "${line}")
      string(STRIP "${path}" path)
      list(APPEND included ${PROJECT_SOURCE_DIR}/${path})
    endforeach()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${script})
    add_custom_command(
      OUTPUT ${header}
      COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DSCRIPT=${folder}/${script} -DOUTPUT=${header}
              -P ${PROJECT_SOURCE_DIR}/cmake/EmbedLua.cmake
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${included} ${PROJECT_SOURCE_DIR}/cmake/EmbedLua.cmake
      COMMENT "lua ${folder}/${script}")
    list(APPEND headers ${header})
  endforeach()
  target_sources(${ARG_TARGET} PRIVATE ${headers})
  target_include_directories(${ARG_TARGET} PRIVATE ${PROJECT_BINARY_DIR}/lua)
endfunction()
