# End-to-end weight import: the import_npy_cli test converts the shared NPY set
# with the real `tabtrain import-npy` (a ctest fixture), test_import checks the
# file it wrote; natively, tests/scripts/fetch_model.sh drives scripts/fetch-model
# through its download (file://) and local paths, checksums and refusals.
set(TT_NPY_DIR "${TT_SHARED_DIR}/models/mobilenet_v2_1.0_224")
if(TARGET tabtrain AND TARGET test_import AND EXISTS "${TT_NPY_DIR}/layers.tsv")
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/test-import)
  add_test(NAME import_npy_cli COMMAND tabtrain import-npy --dir ${TT_NPY_DIR}
           --labels ${TT_SHARED_DIR}/models/tflite/imagenet_labels.txt
           --out ${CMAKE_BINARY_DIR}/test-import/mobilenet_v2_1.0_224.safetensors
           # A fixed provenance text, not this checkout's path: the file's bytes, and so the
           # backbone id that checkpoints record, must not depend on where the tree lies. It is
           # the text the tests/fixtures/v0 checkpoints' backbone was imported with.
           --source "/work/wt-app/../shared/models/mobilenet_v2_1.0_224")
  set_tests_properties(import_npy_cli PROPERTIES FIXTURES_SETUP tt_imported TIMEOUT 120)
  set_tests_properties(test_import PROPERTIES FIXTURES_REQUIRED tt_imported)
  if(NOT TT_WASM)
    add_test(NAME fetch_model_script COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/fetch_model.sh
             $<TARGET_FILE:tabtrain> ${CMAKE_BINARY_DIR}/test-fetch)
    set_tests_properties(fetch_model_script PROPERTIES
      ENVIRONMENT "TT_SHARED_DIR=${TT_SHARED_DIR}" TIMEOUT 120)
  endif()
endif()

# Tests that run the pretrained network read the file the fixture wrote.
foreach(t test_mobilenet test_tail test_cli_model test_wasm_api test_cli_engine)
  if(TARGET ${t} AND TEST import_npy_cli)
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
      "TT_MODEL=${CMAKE_BINARY_DIR}/test-import/mobilenet_v2_1.0_224.safetensors")
    set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED tt_imported)
  endif()
endforeach()
