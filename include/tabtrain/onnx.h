/* tabtrain/onnx.h — an export as a standard ONNX model.
 *
 * tt_onnx_from_export turns an export (tabtrain/ckpt.h tt_ckpt_export: the
 * backbone with any fine-tuned tail, plus the trained head, "tabtrain.kind"
 * "export") into the bytes of one ONNX ModelProto (IR version 8, opset 13,
 * the default domain only) that ONNX Runtime and other runtimes load as is:
 *
 *   input  "input"          float [batch][3][S][S], NCHW, already preprocessed
 *                           (EXIF, white behind alpha, centre square, resize to
 *                           S, x/127.5 - 1: docs/export.md), S = tabtrain.input_size
 *   output "logits"         float [batch][C]
 *   output "probabilities"  float [batch][C], softmax of the logits
 *
 * Conv weights are transposed from tabtrain's OHWI to ONNX's OIHW (depthwise
 * [1][kh][kw][C] to [C][1][kh][kw], group = C); TensorFlow SAME padding is
 * spelled out as explicit pads for the fixed input size; ReLU6 is Clip(0, 6);
 * the head is Gemm (transB: tabtrain kernels are [out][in]) with Relu between
 * its layers. Model metadata_props carry tabtrain.classes, tabtrain.preprocess,
 * tabtrain.head, tabtrain.backbone and tabtrain.input_size as in the export.
 *
 * The protobuf encoding is Debian's protobuf-c over the onnx.proto that
 * Debian's libonnx-dev ships (compiled by protoc-c at build time), not a
 * hand-written encoder.
 *
 *   tt_st_file *ex;  tt_st_open_file(&ex, "exported/model.safetensors");
 *   void *onnx; size_t len;
 *   tt_onnx_from_export(ex, &onnx, &len);   // free(onnx)
 *   tt_onnx_write_file(builder, "exported/model.onnx", NULL);  // from tt_ckpt_export
 *
 * Errors: TT_ERR_FORMAT (not an export, a tensor missing), TT_ERR_SHAPE (a
 * tensor that does not fit MobileNetV2), TT_ERR_NOMEM.
 */
#ifndef TABTRAIN_ONNX_H
#define TABTRAIN_ONNX_H

#include <stddef.h>

#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

tt_status tt_onnx_from_export(const tt_st_file *exported, void **out, size_t *len);

/* The export tt_ckpt_export built, as an ONNX file written atomically at
 * `path` (tabtrain/fileio.h); *bytes (may be NULL) receives its size. What
 * `tabtrain export --format onnx` and the page's ONNX export both call. */
tt_status tt_onnx_write_file(tt_st_builder *exported, const char *path, size_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
