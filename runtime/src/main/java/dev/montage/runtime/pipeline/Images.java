package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/** Conversions between image tensors and pictures. */
final class Images {
    private Images() {
    }

    /**
     * [B, 3, H, W] values in 0..1 to RGB pictures, each value {@code round(255 x)} with ties to even, as
     * diffusers' {@code numpy_to_pil} does.
     */
    static List<BufferedImage> fromTensor(NDArray images) {
        long[] s = images.getShape().getShape();
        if (s.length != 4 || s[1] != 3) {
            throw new IllegalArgumentException("expected images [B, 3, H, W], got " + images.getShape());
        }
        float[] v;
        if (images.getDataType() == DataType.FLOAT32) {
            v = images.toFloatArray();
        } else {
            try (NDArray f = images.toType(DataType.FLOAT32, false)) {
                v = f.toFloatArray();
            }
        }
        int h = (int) s[2];
        int w = (int) s[3];
        int plane = h * w;
        List<BufferedImage> out = new ArrayList<>();
        for (int b = 0; b < s[0]; b++) {
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            int base = b * 3 * plane;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = y * w + x;
                    int r = level(v[base + i]);
                    int g = level(v[base + plane + i]);
                    int bl = level(v[base + 2 * plane + i]);
                    img.setRGB(x, y, (r << 16) | (g << 8) | bl);
                }
            }
            out.add(img);
        }
        return out;
    }

    private static int level(float x) {
        // float32 product as numpy computes it, then round half to even
        float scaled = Math.max(0f, Math.min(1f, x)) * 255f;
        return (int) Math.rint(scaled);
    }
}
