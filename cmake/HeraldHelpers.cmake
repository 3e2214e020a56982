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
