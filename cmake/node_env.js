// Under Node, hand the process environment to the wasm program's getenv()
// (Emscripten otherwise exposes only a fixed default set), so tests and
// benchmarks find TT_SHARED_DIR and friends exactly as the native build does.
if (typeof process === 'object' && process.env) {
  Module['preRun'] = (Module['preRun'] || []).concat(function () {
    // ENV exists only when the program links getenv().
    if (typeof ENV === 'object') for (var k in process.env) ENV[k] = process.env[k];
  });
}
