/* The one translation unit that compiles stb_image_resize (the resampling
 * of tt_image_to_input). Decoding is not stb's: see image.c. */
#define STB_IMAGE_RESIZE_IMPLEMENTATION

#include "data/stb_quiet.h"
TT_STB_QUIET_BEGIN
#include "stb_image_resize.h"
TT_STB_QUIET_END
