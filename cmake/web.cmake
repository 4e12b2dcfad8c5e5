# The engine module the browser worker loads (docs/wasm-api.md): an ES6
# MODULARIZE factory plus its .wasm, build/wasm/engine/tabtrain.{mjs,wasm} (a
# directory of its own: the CLI's launcher already owns build/wasm/tabtrain.wasm).
# The threaded build (build/wasm-mt, TT_WASM_THREADS) adds tabtrain.worker.js and
# starts Module.ttWorkers pthread workers before the factory resolves (the
# caller passes its largest thread count minus one).
# ENVIRONMENT includes node so scripts can drive the exact same module outside a
# browser (see docs/wasm-api.md for the globals the 3.1.6 ES6 output needs there).
set(TT_WASM_EXPORTS
  _malloc _free _tt_wasm_abi_version _tt_wasm_sha256_hex _tt_wasm_config_schema _tt_wasm_last_error _tt_wasm_open
  _tt_wasm_set_weights _tt_wasm_destroy _tt_wasm_set_threads _tt_wasm_class_create _tt_wasm_class_rename
  _tt_wasm_class_delete _tt_wasm_import_classes _tt_wasm_add_image _tt_wasm_remove_image _tt_wasm_dataset_json
  _tt_wasm_part _tt_wasm_needed_image _tt_wasm_give_image _tt_wasm_picture_parts _tt_wasm_upgrade_record
  _tt_wasm_train_begin _tt_wasm_train_step _tt_wasm_resume _tt_wasm_save _tt_wasm_train_state_json
  _tt_wasm_metrics_json _tt_wasm_history_json _tt_wasm_load _tt_wasm_model_json _tt_wasm_predict _tt_wasm_export
  _tt_wasm_reset _tt_wasm_check_image _tt_wasm_check_checkpoint)
string(REPLACE ";" "," TT_WASM_EXPORTS_CSV "${TT_WASM_EXPORTS}")

add_executable(tabtrain_wasm ${TT_WASM_SOURCES})
target_link_libraries(tabtrain_wasm PRIVATE tabtrain_app)
target_include_directories(tabtrain_wasm PRIVATE src)
target_include_directories(tabtrain_wasm SYSTEM PRIVATE ${CMAKE_BINARY_DIR}/jsmn)
set_target_properties(tabtrain_wasm PROPERTIES OUTPUT_NAME tabtrain SUFFIX .mjs
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/engine)
target_link_options(tabtrain_wasm PRIVATE
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createTabtrain -sENVIRONMENT=worker,node
  -sEXIT_RUNTIME=0 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2gb -sFORCE_FILESYSTEM=1 -lidbfs.js
  -sEXPORTED_FUNCTIONS=${TT_WASM_EXPORTS_CSV}
  -sEXPORTED_RUNTIME_METHODS=FS,UTF8ToString,stringToUTF8,lengthBytesUTF8)
if(TT_WASM_THREADS)
  target_link_options(tabtrain_wasm PRIVATE "-sPTHREAD_POOL_SIZE=(Module.ttWorkers||0)")
endif()
