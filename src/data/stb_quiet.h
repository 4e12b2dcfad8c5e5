/* stb_quiet.h — brackets an #include of an stb implementation so that its
 * unused statics, unused parameters, sign compares and fallthroughs (upstream
 * code we do not edit) do not drown our -Wall -Wextra output:
 *
 *   #include "data/stb_quiet.h"
 *   TT_STB_QUIET_BEGIN
 *   #include "stb_image.h"
 *   TT_STB_QUIET_END
 */
#ifndef TT_STB_QUIET_H
#define TT_STB_QUIET_H

#if defined(__GNUC__) || defined(__clang__)
#define TT_STB_QUIET_BEGIN                                      \
    _Pragma("GCC diagnostic push")                              \
    _Pragma("GCC diagnostic ignored \"-Wunused-function\"")     \
    _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"")    \
    _Pragma("GCC diagnostic ignored \"-Wsign-compare\"")        \
    _Pragma("GCC diagnostic ignored \"-Wimplicit-fallthrough\"")
#define TT_STB_QUIET_END _Pragma("GCC diagnostic pop")
#else
#define TT_STB_QUIET_BEGIN
#define TT_STB_QUIET_END
#endif

#endif
