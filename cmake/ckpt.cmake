# Checkpoint tests beyond the unit test: test_ckpt writes a fixture checkpoint
# that Debian's Python reads back with json + struct + numpy (format proof).
if(NOT TT_WASM AND TARGET test_ckpt AND EXISTS /usr/bin/python3)
  set_tests_properties(test_ckpt PROPERTIES FIXTURES_SETUP tt_ckpt_fixture)
  add_test(NAME test_ckpt_python COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/scripts/read_ckpt.py
           ${CMAKE_BINARY_DIR}/test-ckpt/fixture.safetensors
           ${CMAKE_BINARY_DIR}/test-ckpt/fixture.adam_m.head.hidden.kernel.f32 adam_m.head.hidden.kernel)
  set_tests_properties(test_ckpt_python PROPERTIES FIXTURES_REQUIRED tt_ckpt_fixture TIMEOUT 60)
endif()

# End to end through the CLI with the real backbone (the import fixture):
# SIGKILL crash/resume trials, export + the PyTorch snippet of docs/export.md,
# the ONNX export run in ONNX Runtime (onnxruntime-node from npm), and a run continued
# in PyTorch with data parallelism.
if(NOT TT_WASM AND TARGET tabtrain AND TEST import_npy_cli AND EXISTS /usr/bin/python3)
  # 30 seeded kills natively; the sanitizer build runs ~4x slower, so fewer there.
  set(TT_CRASH_TRIALS 30)
  if(TT_SANITIZE)
    set(TT_CRASH_TRIALS 10)
  endif()
  set(TT_CKPT_MODEL_ENV "TT_MODEL=${CMAKE_BINARY_DIR}/test-import/mobilenet_v2_1.0_224.safetensors")
  add_test(NAME ckpt_crash COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/crash_test.sh
           $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-crash ${TT_CRASH_TRIALS} 1)
  add_test(NAME export_pytorch COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/export_test.sh
           $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-export ${CMAKE_SOURCE_DIR})
  add_test(NAME export_onnx COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/export_onnx.sh
           $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-export-onnx ${CMAKE_SOURCE_DIR})
  set_tests_properties(ckpt_crash export_pytorch export_onnx PROPERTIES
    FIXTURES_REQUIRED tt_imported ENVIRONMENT "${TT_CKPT_MODEL_ENV}" TIMEOUT 300 SKIP_RETURN_CODE 77)
  # tabtrain -> export -> python/tabtrain_ddp.py under torchrun (2 processes) -> tabtrain
  # eval/predict; the sanitizers add nothing there (the C side is eval and predict).
  if(NOT TT_SANITIZE)
    add_test(NAME pytorch_ddp COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/pytorch_ddp.sh
             $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-pytorch-ddp ${CMAKE_SOURCE_DIR})
    set_tests_properties(pytorch_ddp PROPERTIES
      FIXTURES_REQUIRED tt_imported ENVIRONMENT "${TT_CKPT_MODEL_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
  endif()
endif()
