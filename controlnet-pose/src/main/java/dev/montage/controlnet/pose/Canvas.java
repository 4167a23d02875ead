package dev.montage.controlnet.pose;

import dev.montage.api.image.RgbImage;

/** An 8-bit RGB drawing surface, black at first, row-major with interleaved channels. */
final class Canvas {
    final int width;
    final int height;
    private final byte[] rgb;

    Canvas(int width, int height) {
        this.width = width;
        this.height = height;
        this.rgb = new byte[width * height * 3];
    }

    /** Paints pixel (x, y), which must lie inside. */
    void set(int x, int y, int[] color) {
        int i = (y * width + x) * 3;
        rgb[i] = (byte) color[0];
        rgb[i + 1] = (byte) color[1];
        rgb[i + 2] = (byte) color[2];
    }

    /** Paints row y from x1 to x2 inclusive; all must lie inside. */
    void hline(int y, int x1, int x2, int[] color) {
        for (int x = x1; x <= x2; x++) {
            set(x, y, color);
        }
    }

    RgbImage toImage() {
        return new RgbImage(width, height, rgb.clone());
    }
}
