# Tests that need the real backbone (written by the import_npy_cli fixture)
# and the CLI end to end on real photos. The CLI scripts run natively only:
# they drive the shell, /usr/bin/python3 (numpy, scikit-learn) and Debian
# data sets; the same library code runs under wasm in the unit tests
# (test_dataset, test_featcache). Under the sanitizers only cli_bad_files
# runs (25 photos through train, eval and predict): the backbone is ~100x
# slower there, and the accuracy and peak-RSS checks are about the optimized
# build.
set(TT_TEST_MODEL ${CMAKE_BINARY_DIR}/test-import/mobilenet_v2_1.0_224.safetensors)
if(TARGET test_featcache AND TEST import_npy_cli)
  set_property(TEST test_featcache APPEND PROPERTY ENVIRONMENT "TT_MODEL=${TT_TEST_MODEL}")
  set_tests_properties(test_featcache PROPERTIES FIXTURES_REQUIRED tt_imported)
endif()

if(TARGET tabtrain AND TEST import_npy_cli AND NOT TT_WASM)
  # The CLI's default feature cache is the user's ($XDG_CACHE_HOME/tabtrain): the tests
  # keep theirs in the build tree.
  set(TT_CLI_ENV "TT_MODEL=${TT_TEST_MODEL}" "TT_SHARED_DIR=${TT_SHARED_DIR}" "XDG_CACHE_HOME=${CMAKE_BINARY_DIR}/test-cache")
  if(TT_SANITIZE)
    list(APPEND TT_CLI_ENV "TT_SANITIZED=1") # scripts skip what only measures the optimized build
  endif()
  set(TT_CLI_TESTS cli_bad_files cli_fuzz_repro cli_old_ckpt)
  if(NOT TT_SANITIZE)
    list(APPEND TT_CLI_TESTS cli_qabcs cli_fashion_scale cli_unfreeze cli_run_rules cli_project cli_cache_dir)
  endif()
  foreach(t ${TT_CLI_TESTS})
    add_test(NAME ${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/${t}.sh
             $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-${t})
    set_tests_properties(${t} PROPERTIES ENVIRONMENT "${TT_CLI_ENV}" FIXTURES_REQUIRED tt_imported
                         TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endif()
