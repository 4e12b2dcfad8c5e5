/* tabtrain/run.h — what makes a checkpoint belong to a run, for both front ends.
 *
 * A run is its settings (tabtrain/config.h) and its pictures in split order.
 * The pictures are identified by content, not by path or engine id: the
 * data id is the CRC-32 over (SHA-256 of the encoded bytes, label) of every
 * training picture, then every validation picture. `tabtrain train` and the
 * engine store the same config JSON (the settings, "data_id", and for the
 * engine the class ids of its class list), so a checkpoint written by either
 * resumes in the other when the settings and the pictures are the same.
 */
#ifndef TABTRAIN_RUN_H
#define TABTRAIN_RUN_H

#include <stdint.h>

#include "tabtrain/config.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adds one picture to a data id (start from 0). */
uint32_t tt_run_data_id(uint32_t id, const uint8_t hash[TT_SHA256_SIZE], int32_t label);

/* The config JSON a checkpoint or model file stores: every setting, "data_id"
 * and (class_ids != NULL) "class_ids". malloc'd; NULL when out of memory. */
char *tt_run_config_json(const tt_config *c, uint32_t data_id, const int *class_ids, int n_ids);

/* Whether the checkpoint f may continue a run of `cfg` over pictures of
 * `data_id`: TT_ERR_MISMATCH naming the first setting that differs, or
 * saying the pictures differ; TT_ERR_NOT_FOUND when the settings agree but
 * the file does not say which pictures it saw (written before data ids). */
tt_status tt_run_check_file(const tt_st_file *f, const tt_config *cfg, uint32_t data_id);

#ifdef __cplusplus
}
#endif
#endif
