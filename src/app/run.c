/* What makes a checkpoint belong to a run (tabtrain/run.h). */
#include "tabtrain/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

uint32_t tt_run_data_id(uint32_t id, const uint8_t hash[TT_SHA256_SIZE], int32_t label) {
    uint8_t row[TT_SHA256_SIZE + 4];
    memcpy(row, hash, TT_SHA256_SIZE);
    for (int i = 0; i < 4; i++) row[TT_SHA256_SIZE + i] = (uint8_t)((uint32_t)label >> (8 * i)); /* little endian */
    return tt_crc32(id, row, sizeof row);
}

char *tt_run_config_json(const tt_config *c, uint32_t data_id, const int *class_ids, int n_ids) {
    char *settings = tt_config_to_json(c);
    if (!settings) return NULL;
    tt_strbuf b = {0};
    tt_strbuf_printf(&b, "%.*s,\"data_id\":\"%08x\"", (int)strlen(settings) - 1, settings, (unsigned)data_id);
    free(settings);
    if (class_ids) {
        tt_strbuf_printf(&b, ",\"class_ids\":[");
        for (int i = 0; i < n_ids; i++) tt_strbuf_printf(&b, "%s%d", i ? "," : "", class_ids[i]);
        tt_strbuf_printf(&b, "]");
    }
    tt_strbuf_printf(&b, "}");
    return tt_strbuf_take(&b);
}

tt_status tt_run_check_file(const tt_st_file *f, const tt_config *cfg, uint32_t data_id) {
    tt_config saved;
    tt_status st = tt_config_from_file(f, &saved);
    if (!st) st = tt_config_compare(&saved, cfg);
    if (st) return st;
    tt_json j;
    const char *cj = tt_st_metadata(f, "tabtrain.config");
    char have[16];
    int known = cj && !tt_json_parse(&j, cj) && tt_json_text(&j, tt_json_key(&j, 0, "data_id"), have, sizeof have);
    if (cj) tt_json_free(&j);
    if (!known) return tt_error(TT_ERR_NOT_FOUND, "checkpoint does not say which pictures it was trained on");
    char want[16];
    snprintf(want, sizeof want, "%08x", (unsigned)data_id);
    if (strcmp(have, want))
        return tt_error(TT_ERR_MISMATCH, "checkpoint was trained on other pictures (or another split of them): "
                                         "the same pictures and settings are needed to continue it");
    return TT_OK;
}
