/* The one translation unit that compiles stb_image and stb_image_resize.
 * Only the four formats tabtrain accepts are built (see tabtrain/image.h);
 * decoding is from memory only. STBI_MAX_DIMENSIONS is a backstop: the real
 * limit (max_pixels) is checked by tt_image_decode before stb allocates. */
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_MAX_DIMENSIONS (1 << 17)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION

#include "data/stb_quiet.h"
TT_STB_QUIET_BEGIN
#include "stb_image.h"
#include "stb_image_resize.h"
TT_STB_QUIET_END
