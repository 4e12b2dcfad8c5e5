/* libFuzzer: the JSON layer every metadata reader and the engine API use. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/json.h"

/* Every value under i, with every reader, as a metadata reader would. */
static void walk(const tt_json *j, int i, int depth) {
    if (depth > 64) return;
    double d;
    int64_t v;
    uint64_t u;
    int b;
    char buf[64], *s = NULL;
    tt_json_num(j, i, &d, 0), tt_json_num(j, i, &d, 1), tt_json_i64(j, i, &v), tt_json_u64(j, i, &u);
    tt_json_bool(j, i, &b), tt_json_text(j, i, buf, sizeof buf), tt_json_eq(j, i, "name");
    if (!tt_json_string(j, i, &s)) free(s);
    for (int k = 0, n = tt_json_len(j, i); k < n; k++) walk(j, tt_json_at(j, i, k), depth + 1);
    for (int k = 0, n = tt_json_members(j, i); k < n; k++) {
        int key = tt_json_member(j, i, k);
        walk(j, key, depth + 1);
        walk(j, key + 1, depth + 1);
    }
    tt_json_key(j, i, "name"), tt_json_key(j, i, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *js = malloc(size + 1);
    if (!js) return 0;
    memcpy(js, data, size);
    js[size] = '\0';
    tt_json j;
    if (!tt_json_parse(&j, js)) {
        walk(&j, 0, 0);
        tt_json_free(&j);
    }
    char **names;
    int n;
    if (!tt_json_string_array(js, &names, &n)) {
        char *back = tt_json_string_list(names, n);
        free(back);
        tt_json_free_strings(names, n);
    }
    double d;
    tt_json_number(js, "hidden", &d);
    free(js);
    return 0;
}
