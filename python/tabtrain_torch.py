# usage: python3 tabtrain_torch.py EXPORT_DIR IMAGE...   -> one JSON line per image
import json, math, struct, sys
import numpy as np, torch
from PIL import Image, ImageOps

def load_safetensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", name
        begin, end = t["data_offsets"]
        a = np.frombuffer(blob, "<f4", (end - begin) // 4, 8 + n + begin).reshape(t["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta

class SameConv(torch.nn.Module):
    """Conv2d with TensorFlow SAME padding, weights from an OHWI / 1HWC tensor."""
    def __init__(self, w, b, stride, depthwise, relu6):
        super().__init__()
        w = w.permute(3, 0, 1, 2) if depthwise else w.permute(0, 3, 1, 2)  # -> OIHW
        o, i, k, _ = w.shape
        self.conv = torch.nn.Conv2d(w.shape[0] if depthwise else i, o, k, stride,
                                    groups=o if depthwise else 1)
        self.conv.weight.data.copy_(w)
        self.conv.bias.data.copy_(b)
        self.k, self.stride, self.relu6 = k, stride, relu6

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad order: W then H
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.k - size, 0)
            pads += [total // 2, total - total // 2]
        x = self.conv(torch.nn.functional.pad(x, pads))
        return torch.clamp(x, 0, 6) if self.relu6 else x

class Block(torch.nn.Module):
    def __init__(self, t, i, stride):
        super().__init__()
        p = f"block{i}."
        layers = []
        if p + "expand.weight" in t:
            layers.append(SameConv(t[p + "expand.weight"], t[p + "expand.bias"], 1, False, True))
        layers.append(SameConv(t[p + "depthwise.weight"], t[p + "depthwise.bias"], stride, True, True))
        layers.append(SameConv(t[p + "project.weight"], t[p + "project.bias"], 1, False, False))
        self.layers = torch.nn.Sequential(*layers)
        cin = t[p + ("expand" if p + "expand.weight" in t else "depthwise") + ".weight"].shape[3]
        self.residual = stride == 1 and cin == t[p + "project.weight"].shape[0]

    def forward(self, x):
        y = self.layers(x)
        return x + y if self.residual else y

class TabtrainClassifier(torch.nn.Module):
    def __init__(self, t, head):
        super().__init__()
        strides = {1: 2, 3: 2, 6: 2, 13: 2}
        self.features = torch.nn.Sequential(
            SameConv(t["stem.weight"], t["stem.bias"], 2, False, True),
            *[Block(t, i, strides.get(i, 1)) for i in range(17)],
            SameConv(t["head.weight"], t["head.bias"], 1, False, True))
        layers = []
        if head["hidden"] > 0:
            layers += [torch.nn.Linear(head["in_dim"], head["hidden"]), torch.nn.ReLU()]
            layers[0].weight.data.copy_(t["head.hidden.kernel"])
            layers[0].bias.data.copy_(t["head.hidden.bias"])
        layers.append(torch.nn.Linear(t["head.logits.kernel"].shape[1], head["classes"]))
        layers[-1].weight.data.copy_(t["head.logits.kernel"])
        layers[-1].bias.data.copy_(t["head.logits.bias"])
        self.classifier = torch.nn.Sequential(*layers)

    def forward(self, x):  # x: [n][3][224][224] in [-1, 1]
        return self.classifier(self.features(x).mean(dim=(2, 3)))

def preprocess(path, size):
    im = Image.open(path)
    if im.format == "JPEG":  # decoded at 1/8, 1/4 or 1/2 scale while the short side stays >= size
        a = 8
        while a > 1 and (min(im.size) + a - 1) // a < size:
            a //= 2
        if a > 1:
            im.draft("RGB", (im.width // a, im.height // a))
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im)
    im = im.convert("RGB")
    k = min(im.size) // size
    if k > 1:  # box-shrunk by a whole factor: tabtrain's training copy
        im = im.crop((0, 0, im.width // k * k, im.height // k * k)).reduce(k)
    s = min(im.size)
    left, top = (im.width - s) // 2, (im.height - s) // 2
    im = im.crop((left, top, left + s, top + s))
    if s != size:
        im = im.resize((size, size), Image.BILINEAR)
    x = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(x).permute(2, 0, 1)  # HWC -> CHW

if __name__ == "__main__":
    export_dir, images = sys.argv[1], sys.argv[2:]
    info = json.load(open(f"{export_dir}/model.json"))
    tensors, meta = load_safetensors(f"{export_dir}/{info['weights']}")
    model = TabtrainClassifier(tensors, info["head"]).eval()
    with torch.no_grad():
        batch = torch.stack([preprocess(p, info["input_size"]) for p in images])
        probs = torch.softmax(model(batch), dim=1)
    for path, p in zip(images, probs.tolist()):
        print(json.dumps({"path": path, "class": info["classes"][int(np.argmax(p))],
                          "probabilities": p}))
