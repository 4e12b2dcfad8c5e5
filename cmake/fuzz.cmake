# libFuzzer harnesses (tests/fuzz), one per entry point for untrusted bytes.
# Configured by `scripts/build fuzz` (clang, TT_FUZZ=ON): everything is built
# with ASan + UBSan and libFuzzer's coverage. The ctests run each harness over
# its committed corpus and the shared reproducers (../shared/fuzz-repro), then
# fuzz it for TT_FUZZ_SECONDS (default 12: CI has 30 minutes for everything;
# `scripts/fuzz 600` is the long run) from that corpus.
set(TT_FUZZ_SECONDS 12 CACHE STRING "Seconds of fresh fuzzing per harness in ctest")
set(TT_FUZZ_HARNESSES image safetensors ckpt model json npy wasm_api)
# Which reproducers each harness must get through.
set(TT_FUZZ_REPRO_image image-jpeg-dht-overflow-1.jpg slow-jpeg-6324x6324.jpg
    slow-gif-canvas-6324x6324.gif slow-png16-6324x6324.png)
set(TT_FUZZ_REPRO_safetensors export-head-dtype-overread-1.safetensors
    model-head-alloc-dos-1.safetensors model-head-json-oob-read-1.safetensors)
set(TT_FUZZ_REPRO_ckpt export-head-dtype-overread-1.safetensors)
set(TT_FUZZ_REPRO_model export-head-dtype-overread-1.safetensors
    model-head-alloc-dos-1.safetensors model-head-json-oob-read-1.safetensors)
set(TT_FUZZ_REPRO_json json-key-without-value-oob-read-1.bin)
set(TT_FUZZ_REPRO_npy)
set(TT_FUZZ_REPRO_wasm_api wasm-set-classes-leak-1.bin wasm-config-class-ids-leak-1.bin)

enable_testing()
foreach(h ${TT_FUZZ_HARNESSES})
  add_executable(fuzz_${h} tests/fuzz/fuzz_${h}.c)
  target_link_libraries(fuzz_${h} PRIVATE tabtrain_app)
  target_include_directories(fuzz_${h} PRIVATE src tests/fuzz tests/unit)
  target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${h})
  set(repro "")
  foreach(r ${TT_FUZZ_REPRO_${h}})
    if(EXISTS ${TT_SHARED_DIR}/fuzz-repro/${r})
      list(APPEND repro ${TT_SHARED_DIR}/fuzz-repro/${r})
    endif()
  endforeach()
  add_test(NAME fuzz_${h}_corpus COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz --check
           $<TARGET_FILE:fuzz_${h}> ${corpus} ${repro})
  add_test(NAME fuzz_${h}_fresh COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz --run
           $<TARGET_FILE:fuzz_${h}> ${corpus} ${CMAKE_BINARY_DIR}/fuzz-work/${h} ${TT_FUZZ_SECONDS})
  set_tests_properties(fuzz_${h}_fresh PROPERTIES DEPENDS fuzz_${h}_corpus TIMEOUT 600)
endforeach()
# The small random backbone of the unit tests (its asserts are cmocka's).
target_sources(fuzz_wasm_api PRIVATE src/wasm/api.c tests/unit/support/mnv2_synth.c tests/unit/support/tt_test.c)
target_link_libraries(fuzz_wasm_api PRIVATE cmocka)
target_include_directories(fuzz_wasm_api SYSTEM PRIVATE ${CMAKE_BINARY_DIR}/jsmn)
