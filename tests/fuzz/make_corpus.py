#!/usr/bin/python3
"""Writes the committed seed corpus of tests/fuzz/corpus (run from tests/fuzz):
small valid inputs of every kind each harness reads, plus our own minimal
equivalents of the shared reproducers. CKPT is a checkpoint of the ckpt
harness's trainer:  FZ_SEED=CKPT build/fuzz/fuzz_ckpt -runs=0 DIR."""
import io, json, struct, sys

import numpy as np
from PIL import Image

ckpt_path = sys.argv[1]
rng = np.random.default_rng(1)


def save(path, data):
    open('corpus/' + path, 'wb').write(data)


def encode(im, **kw):
    b = io.BytesIO()
    im.save(b, **kw)
    return b.getvalue()


# image: tiny pictures of every accepted kind
px = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
im = Image.fromarray(px)
for name, kw in [('baseline.jpg', dict(format='JPEG', quality=80)),
                 ('progressive.jpg', dict(format='JPEG', quality=80, progressive=True)),
                 ('subsampled.jpg', dict(format='JPEG', quality=60, subsampling=2)),
                 ('rgb.png', dict(format='PNG')), ('rgb.bmp', dict(format='BMP')),
                 ('rgb.webp', dict(format='WEBP', quality=70)), ('lossless.webp', dict(format='WEBP', lossless=True))]:
    save('image/' + name, encode(im, **kw))
save('image/grey.jpg', encode(Image.fromarray(px[:, :, 0]), format='JPEG'))
pal = im.convert('P', palette=Image.ADAPTIVE, colors=16)
save('image/palette.png', encode(pal, format='PNG', transparency=3))
save('image/palette.gif', encode(pal, format='GIF', transparency=2))
save('image/palette.bmp', encode(pal, format='BMP'))
save('image/rgba.png', encode(im.convert('RGBA'), format='PNG'))
save('image/rgba.webp', encode(im.convert('RGBA'), format='WEBP', lossless=True))
save('image/grey16.png', encode(Image.fromarray((rng.random((6, 5)) * 65535).astype(np.uint16)), format='PNG'))
# our own minimal DHT overflow: a baseline JPEG whose first DHT counts add up to 16 * 255
j = bytearray(open('corpus/image/baseline.jpg', 'rb').read())
k = j.index(b'\xff\xc4')
for t in range(16):
    j[k + 5 + t] = 255
save('image/dht-counts-over-256.jpg', bytes(j))

# json
docs = ['{"in_dim":1280,"hidden":128,"classes":3,"dropout":0.2,"unfreeze":0}',
        '[{"id":1,"name":"cat"},{"id":2,"name":"caf\\u00e9 \\"x\\""}]', '["a","b","\\ud83d\\ude00"]',
        '{"epochs":4,"batch_size":16,"optimizer":"adam","lr":0.001,"seed":"11","nested":{"a":[1,2,{"b":null}]}}',
        '{"a":1,"a":2}', '{"k"}']
for i, d in enumerate(docs):
    save(f'json/doc{i}.json', d.encode())

# npy
for name, arr in [('f32.npy', rng.random((2, 3)).astype('<f4')), ('i64.npy', np.arange(5, dtype='<i8')),
                  ('u8.npy', np.zeros((2, 2, 2), np.uint8)), ('scalar.npy', np.float64(1.5))]:
    b = io.BytesIO()
    np.save(b, arr)
    save('npy/' + name, b.getvalue())


def st(tensors, meta=None):
    hdr, data = {}, b''
    for name, (dt, shape, raw) in tensors.items():
        hdr[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    if meta:
        hdr['__metadata__'] = meta
    h = json.dumps(hdr).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + data


def fz(meta, tensors):
    """The harnesses' "!fz" form (tests/fuzz/fuzz_build.h): CRCs added by the harness."""
    return b'!fz\n' + json.dumps(meta).encode() + b'\0' + json.dumps(tensors).encode()


# safetensors: a plain third-party file, a real checkpoint, the same in "!fz" form
save('safetensors/plain.safetensors', st({'w': ('F32', [2, 2], np.arange(4, dtype='<f4').tobytes()),
                                          'n': ('I64', [1], np.arange(1, dtype='<i8').tobytes())}, {'note': 'x'}))
ck = open(ckpt_path, 'rb').read()
save('safetensors/checkpoint.safetensors', ck)
save('ckpt/checkpoint.safetensors', ck)
n = struct.unpack('<Q', ck[:8])[0]
hdr = json.loads(ck[8:8 + n])
meta = {k: v for k, v in hdr.pop('__metadata__').items()
        if not k.startswith('tabtrain.crc32.') and k not in ('tabtrain.format_version', 'tabtrain.meta_crc32')}
codes = {'F32': 0, 'F64': 1, 'I32': 2, 'I64': 3, 'U8': 4}
shapes = {k: [codes[v['dtype']]] + v['shape'] for k, v in hdr.items()}
save('ckpt/checkpoint.fz', fz(meta, shapes))
save('safetensors/checkpoint.fz', fz(meta, shapes))

# model files: a linear head, one with a hidden layer, a checkpoint with best.* copies for export
model = {'tabtrain.kind': 'model', 'tabtrain.classes': '["a","b"]', 'tabtrain.backbone': 'sha256:x',
         'tabtrain.head': '{"in_dim":4,"hidden":0,"classes":2,"dropout":0,"unfreeze":0}'}
save('model/linear.fz', fz(model, {'head.logits.kernel': [0, 2, 4], 'head.logits.bias': [0, 2]}))
m2 = dict(model, **{'tabtrain.head': '{"in_dim":4,"hidden":3,"classes":2,"dropout":0.1,"unfreeze":0}'})
save('model/hidden.fz', fz(m2, {'head.hidden.kernel': [0, 3, 4], 'head.hidden.bias': [0, 3],
                                'head.logits.kernel': [0, 2, 3], 'head.logits.bias': [0, 2]}))
m3 = dict(model, **{'tabtrain.kind': 'checkpoint', 'tabtrain.state': '{"best_epoch":2}'})
save('model/best.fz', fz(m3, {'head.logits.kernel': [0, 2, 4], 'head.logits.bias': [0, 2],
                              'best.head.logits.kernel': [0, 2, 4], 'best.head.logits.bias': [0, 2],
                              'backbone.stem.bias': [0, 2], 'best.backbone.stem.bias': [0, 2]}))
# our own minimal export over-read: best.head.logits.bias is U8
save('model/best-u8.fz', fz(m3, {'head.logits.kernel': [0, 2, 4], 'head.logits.bias': [4, 2],
                                 'best.head.logits.kernel': [0, 2, 4], 'best.head.logits.bias': [4, 2]}))
# our own minimal head-size DoS: a head of 10^12 parameters claimed by a few bytes
save('model/huge-head.fz', fz(dict(model, **{'tabtrain.head': '{"in_dim":1000000,"hidden":1000000,"classes":2}'}), {}))

# engine API: byte 0 = 0 class list, 1 config, 2 model file, 3 picture
save('wasm_api/classes.bin', b'\0[{"id":1,"name":"cat"},{"id":2,"name":"dog"}]')
save('wasm_api/classes-twice.bin', b'\0[{"id":1,"name":"a","name":"b"}]')
save('wasm_api/config.bin', b'\1{"epochs":2,"batch_size":4,"learning_rate":0.001,"hidden_units":8,'
                            b'"dropout":0.1,"val_fraction":0.25,"seed":3}')
save('wasm_api/picture.bin', b'\3' + open('corpus/image/rgb.png', 'rb').read())
save('wasm_api/model.bin', b'\2' + open('corpus/safetensors/plain.safetensors', 'rb').read())
