# The embed engine (src/embed/embed.c) behind web/embed/tabtrain-embed.mjs:
# build/wasm/embed/tabtrain-embed-engine.{mjs,wasm}. Predict only: one
# thread, no IDBFS, nothing exported but the tt_embed_* calls; the linker
# drops the trainer, checkpoints and the rest of the library it never calls.
add_executable(tabtrain_embed src/embed/embed.c)
target_link_libraries(tabtrain_embed PRIVATE tabtrain_core)
set_target_properties(tabtrain_embed PROPERTIES OUTPUT_NAME tabtrain-embed-engine SUFFIX .mjs
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/embed)
target_link_options(tabtrain_embed PRIVATE
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createTabtrainEmbed -sENVIRONMENT=web,worker,node
  -sEXIT_RUNTIME=0 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=1gb
  "-sEXPORTED_FUNCTIONS=_malloc,_free,_tt_embed_open,_tt_embed_close,_tt_embed_last_error,_tt_embed_class_count,_tt_embed_class_name,_tt_embed_classify,_tt_embed_classify_rgba"
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString)
