# ONNX export (src/ckpt/onnx.c): onnx.proto from Debian's libonnx-dev compiled
# by protoc-c (protobuf-c-compiler) into build/<target>/onnx/onnx.pb-c.{c,h},
# encoded by the protobuf-c runtime: Debian's libprotobuf-c natively; in the
# wasm build, where host libraries cannot link, the same release's runtime
# source (scripts/setup fetches it from Debian into build/deps/protobuf-c).
find_program(TT_PROTOC_C NAMES protoc-c protoc-gen-c REQUIRED)
find_file(TT_ONNX_PROTO onnx.proto PATHS /usr/include/onnx NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
set(TT_ONNX_GEN ${CMAKE_BINARY_DIR}/onnx)
get_filename_component(TT_ONNX_PROTO_DIR ${TT_ONNX_PROTO} DIRECTORY)
add_custom_command(
  OUTPUT ${TT_ONNX_GEN}/onnx.pb-c.c ${TT_ONNX_GEN}/onnx.pb-c.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${TT_ONNX_GEN}
  COMMAND ${TT_PROTOC_C} --c_out=${TT_ONNX_GEN} -I${TT_ONNX_PROTO_DIR} ${TT_ONNX_PROTO}
  DEPENDS ${TT_ONNX_PROTO}
  COMMENT "protoc-c onnx.proto")
set(TT_ONNX_SOURCES ${TT_ONNX_GEN}/onnx.pb-c.c)
if(TT_WASM)
  find_file(TT_PROTOBUF_C_RUNTIME protobuf-c/protobuf-c.c PATHS ${TT_PROTOBUF_C_SOURCE}
            NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
  list(APPEND TT_ONNX_SOURCES ${TT_PROTOBUF_C_RUNTIME})
endif()
# Generated and third-party code: its warnings are not ours to fix.
set_source_files_properties(${TT_ONNX_SOURCES} PROPERTIES COMPILE_OPTIONS "-w")
target_sources(tabtrain_core PRIVATE ${TT_ONNX_SOURCES})
target_include_directories(tabtrain_core PRIVATE ${TT_ONNX_GEN})
if(TT_WASM)
  set(TT_PROTOBUF_C_INCLUDE ${TT_PROTOBUF_C_SOURCE})
else()
  find_library(TT_PROTOBUF_C_LIB protobuf-c REQUIRED)
  find_path(TT_PROTOBUF_C_INCLUDE protobuf-c/protobuf-c.h REQUIRED)
  target_link_libraries(tabtrain_core PUBLIC ${TT_PROTOBUF_C_LIB})
endif()
target_include_directories(tabtrain_core SYSTEM PRIVATE ${TT_PROTOBUF_C_INCLUDE})
