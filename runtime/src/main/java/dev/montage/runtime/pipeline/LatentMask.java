package dev.montage.runtime.pipeline;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import java.awt.image.BufferedImage;

/**
 * An inpainting mask on the latent grid, as diffusers' SDXL inpaint pipeline prepares it: its mask processor converts
 * the picture to grey (Pillow's {@code convert("L")}), resizes it to the generation's size with Lanczos, scales it to
 * 0..1 and binarises it at 0.5; {@code prepare_mask_latents} then takes it to the latent size by nearest-neighbour
 * interpolation, which keeps the top-left pixel of each cell.
 */
final class LatentMask {

    private LatentMask() {
    }

    /**
     * @param factor pixels per latent cell
     * @return {@code (height / factor) * (width / factor)} values, row-major: 1 where the run repaints, 0 where it
     *     keeps the picture
     */
    static float[] of(BufferedImage mask, int width, int height, int factor) {
        return toLatentGrid(binarized(mask, width, height), width, height, factor);
    }

    /**
     * The mask at the generation's size, binarised: {@code height * width} values, row-major, 1 where the run
     * repaints.
     */
    static float[] binarized(BufferedImage mask, int width, int height) {
        RgbImage rgb = RgbImage.of(mask, null);
        byte[] grey = new byte[rgb.width() * rgb.height() * 3];
        for (int y = 0; y < rgb.height(); y++) {
            for (int x = 0; x < rgb.width(); x++) {
                // Pillow's ITU-R 601-2 luma in 16-bit fixed point, rounded
                int l = (rgb.get(x, y, 0) * 19595 + rgb.get(x, y, 1) * 38470 + rgb.get(x, y, 2) * 7471 + 0x8000) >> 16;
                int i = (y * rgb.width() + x) * 3;
                grey[i] = (byte) l;
                grey[i + 1] = (byte) l;
                grey[i + 2] = (byte) l;
            }
        }
        // Pillow resizes each band alike, so the grey picture resized as RGB is its L-mode resize in every channel
        RgbImage resized = PilResampler.resize(new RgbImage(rgb.width(), rgb.height(), grey), width, height,
                ResampleFilter.LANCZOS);
        float[] out = new float[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                out[y * width + x] = resized.get(x, y, 0) / 255f >= 0.5f ? 1f : 0f;
            }
        }
        return out;
    }

    /** A binarised mask of the generation's size on the latent grid: each cell the top-left pixel of its block. */
    static float[] toLatentGrid(float[] binarized, int width, int height, int factor) {
        int w = width / factor;
        int h = height / factor;
        float[] out = new float[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                out[y * w + x] = binarized[y * factor * width + x * factor];
            }
        }
        return out;
    }
}
