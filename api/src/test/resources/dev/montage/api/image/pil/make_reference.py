"""Regenerates the Pillow reference pictures of PilResamplerTest and RgbImageTest.

Run with the Pillow the golden fixtures were made with (9.4, Debian bookworm's python3-pil):
    /usr/bin/python3 make_reference.py
Every input is synthetic (seeded noise and gradients), so the files carry no third-party data.
"""
import numpy as np
from PIL import Image

rng = np.random.default_rng(20240611)

# resampling: harsh noise (bicubic overshoot must clip) and a smooth picture, every filter, sizes that shrink,
# grow, shrink one axis only, and mix
noise = Image.fromarray(rng.integers(0, 256, (47, 61, 3), dtype=np.uint8), "RGB")
yy, xx = np.mgrid[0:47, 0:61]
smooth = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
smooth = Image.fromarray(smooth, "RGB")
noise.save("noise.png")
smooth.save("smooth.png")
filters = {"lanczos": Image.LANCZOS, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
           "box": Image.BOX, "hamming": Image.HAMMING}
sizes = [(7, 5), (20, 33), (80, 64), (61, 10), (13, 47), (32, 32)]
for name, picture in (("noise", noise), ("smooth", smooth)):
    for fname, f in filters.items():
        for w, h in sizes:
            picture.resize((w, h), f).save(f"{name}_{fname}_{w}x{h}.png")

# conversion to RGB: every mode a PNG or JPEG decodes to, and Pillow's convert("RGB") of it
rgba = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
rgba[:10, :, 3] = 0
rgba[10:20, :, 3] = 255
Image.fromarray(rgba, "RGBA").save("mode_rgba.png")
Image.fromarray(rgba[..., :3], "RGB").save("mode_rgb.png")
Image.fromarray(rgba[..., 0], "L").save("mode_l.png")
Image.fromarray(rgba[..., [0, 3]], "LA").save("mode_la.png")
palette = Image.fromarray(rgba[..., :3], "RGB").quantize(16)
palette.info["transparency"] = 3
palette.save("mode_p.png", transparency=3)
Image.fromarray(rgba[..., :3], "RGB").save("mode_rgb.jpg", quality=90)
Image.fromarray(rgba[..., :3], "RGB").save("mode_rgb_420.jpg", quality=75, subsampling=2)
Image.fromarray(rgba[..., 0], "L").save("mode_l.jpg", quality=90)
for name in ("mode_rgba.png", "mode_rgb.png", "mode_l.png", "mode_la.png", "mode_p.png", "mode_rgb.jpg",
             "mode_rgb_420.jpg", "mode_l.jpg"):
    Image.open(name).convert("RGB").save(name.replace(".", "_") + ".rgb.png")
