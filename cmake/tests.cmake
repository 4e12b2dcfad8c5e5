# Every tests/unit/test_*.c is one cmocka executable and one ctest test.
# Natively cmocka comes from libcmocka-dev; for wasm it is compiled from the
# Debian source (scripts/setup fetches it) and the tests run under Node via
# CMAKE_CROSSCOMPILING_EMULATOR, reading files through NODERAWFS.
if(TT_WASM)
  if(NOT EXISTS "${TT_CMOCKA_SOURCE}/src/cmocka.c")
    message(FATAL_ERROR "TT_CMOCKA_SOURCE must point at a cmocka source tree (run scripts/setup)")
  endif()
  add_library(cmocka STATIC ${TT_CMOCKA_SOURCE}/src/cmocka.c)
  target_include_directories(cmocka SYSTEM PUBLIC ${TT_CMOCKA_SOURCE}/include)
  target_compile_definitions(cmocka PUBLIC _UINTPTR_T PRIVATE HAVE_SIGNAL_H HAVE_INTTYPES_H
    HAVE_STRINGS_H HAVE_SIGLONGJMP HAVE_GCC_THREAD_LOCAL_STORAGE HAVE_CLOCK_REALTIME HAVE_STRUCT_TIMESPEC)
  target_compile_options(cmocka PRIVATE -w)
  set_target_properties(cmocka PROPERTIES C_EXTENSIONS ON)
  set(TT_CMOCKA_LIB cmocka)
else()
  find_library(TT_CMOCKA_LIB cmocka REQUIRED)
endif()

file(GLOB TT_TEST_SOURCES CONFIGURE_DEPENDS tests/unit/test_*.c)
file(GLOB TT_TEST_SUPPORT CONFIGURE_DEPENDS tests/unit/support/*.c)
if(TT_TEST_SUPPORT)
  add_library(tt_test_support STATIC ${TT_TEST_SUPPORT})
  target_link_libraries(tt_test_support PUBLIC tabtrain_app ${TT_CMOCKA_LIB})
  target_include_directories(tt_test_support PUBLIC tests/unit src)
  # stb_image_write for the image fixtures; only its own dir, never /usr/include (wasm).
  target_include_directories(tt_test_support SYSTEM PRIVATE ${TT_STB_DIR})
  if(TT_SANITIZE)
    # stb_image_write's JPEG bit writer shifts a signed int past bit 31 (upstream, harmless).
    set_source_files_properties(tests/unit/support/image_fixtures.c PROPERTIES COMPILE_OPTIONS -fno-sanitize=shift)
  endif()
endif()
foreach(src ${TT_TEST_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE src tests/unit)
  target_link_libraries(${name} PRIVATE tabtrain_app ${TT_CMOCKA_LIB})
  if(TT_TEST_SUPPORT)
    target_link_libraries(${name} PRIVATE tt_test_support)
  endif()
  if(name MATCHES "^test_cli_")
    target_link_libraries(${name} PRIVATE tabtrain_cli)
  endif()
  if(TT_WASM)
    # -O1 at link: no wasm-opt pass over each test (~3 s a link, no measurable run-time
    # difference: the C is compiled at -O3 either way).
    target_link_options(${name} PRIVATE ${TT_NODE_LINK_OPTIONS} -sINITIAL_MEMORY=64MB -O1)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "TT_SHARED_DIR=${TT_SHARED_DIR};TT_SOURCE_DIR=${CMAKE_SOURCE_DIR};TT_BINARY_DIR=${CMAKE_BINARY_DIR}"
    TIMEOUT 900)
endforeach()

# test_fileio watches the fsync and rename calls of the atomic write (their order).
if(TARGET test_fileio)
  target_link_options(test_fileio PRIVATE -Wl,--wrap=fsync,--wrap=rename)
endif()

# The wasm API is plain C: its test builds it in every build (natively and under ASan too).
foreach(t test_wasm_api test_cli_engine)
  if(TARGET ${t})
    target_sources(${t} PRIVATE src/wasm/api.c)
    target_include_directories(${t} SYSTEM PRIVATE ${CMAKE_BINARY_DIR}/jsmn)
  endif()
endforeach()

# test_onnx reads the ONNX bytes back through the generated onnx.proto code (cmake/onnx.cmake).
if(TARGET test_onnx)
  target_include_directories(test_onnx PRIVATE ${TT_ONNX_GEN})
  target_include_directories(test_onnx SYSTEM PRIVATE ${TT_PROTOBUF_C_INCLUDE})
endif()

# The include arrows between the layers of src/ point one way (tests/scripts/layers.sh).
if(NOT TT_WASM)
  add_test(NAME layers COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scripts/layers.sh ${CMAKE_SOURCE_DIR})
endif()
