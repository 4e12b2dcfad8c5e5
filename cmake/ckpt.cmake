# Checkpoint tests beyond the unit test: test_ckpt writes a fixture checkpoint
# that Debian's Python reads back with json + struct + numpy (format proof).
if(NOT TT_WASM AND TARGET test_ckpt AND EXISTS /usr/bin/python3)
  set_tests_properties(test_ckpt PROPERTIES FIXTURES_SETUP tt_ckpt_fixture)
  add_test(NAME test_ckpt_python COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/scripts/read_ckpt.py
           ${CMAKE_BINARY_DIR}/test-ckpt/fixture.safetensors
           ${CMAKE_BINARY_DIR}/test-ckpt/fixture.adam_m.head.hidden.kernel.f32 adam_m.head.hidden.kernel)
  set_tests_properties(test_ckpt_python PROPERTIES FIXTURES_REQUIRED tt_ckpt_fixture TIMEOUT 60)
endif()
