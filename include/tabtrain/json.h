/* tabtrain/json.h — the few JSON reads the metadata needs (writing is
 * tt_json_quote in safetensors.h plus snprintf).
 *
 *   char **names; int n;
 *   tt_json_string_array("[\"cat\",\"dog\"]", &names, &n);   // unescaped copies
 *   tt_json_free_strings(names, n);
 *   double h; tt_json_number("{\"hidden\":128}", "hidden", &h);
 *
 * Input is a NUL-terminated string, tokenized with jsmn (strict mode; it
 * still tolerates a trailing comma, harmless for metadata we wrote).
 * Escapes \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs joined) are
 * decoded to UTF-8. Errors: TT_ERR_FORMAT (not JSON / wrong shape),
 * TT_ERR_NOT_FOUND (key absent), TT_ERR_NOMEM.
 */
#ifndef TABTRAIN_JSON_H
#define TABTRAIN_JSON_H

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

tt_status tt_json_string_array(const char *js, char ***out, int *n);
void tt_json_free_strings(char **v, int n);
/* A number member of the top-level object (null gives NaN). */
tt_status tt_json_number(const char *js, const char *key, double *out);

#ifdef __cplusplus
}
#endif
#endif
