package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

/** Masks to the latent grid as diffusers' SDXL inpaint pipeline takes them. */
class LatentMaskTest {

    private static BufferedImage halves(Color left, Color right, int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(left);
        g.fillRect(0, 0, width / 2, height);
        g.setColor(right);
        g.fillRect(width / 2, 0, width - width / 2, height);
        g.dispose();
        return image;
    }

    /** White repaints, black keeps; each latent cell takes the top-left pixel of its 8 × 8 block. */
    @Test
    void whiteRepaintsAndEachCellTakesItsTopLeftPixel() {
        assertArrayEquals(new float[] {1, 0, 1, 0}, LatentMask.of(halves(Color.WHITE, Color.BLACK, 16, 16), 16, 16, 8));
        // resized to the generation's size first: a 40 × 24 mask over a 32 × 16 generation
        assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 1, 1}, LatentMask.of(halves(Color.BLACK, Color.WHITE, 40, 24),
                32, 16, 8));
    }

    /**
     * Pillow's grey level of a colour decides, binarised at 128 of 255: pure red is 76 (kept), pure green 150
     * (repainted); grey 127 is kept and 128 repainted.
     */
    @Test
    void theGreyLevelIsPillowsAndBinarisedAtHalf() {
        assertArrayEquals(new float[] {0, 1}, LatentMask.of(halves(Color.RED, Color.GREEN, 16, 8), 16, 8, 8));
        assertArrayEquals(new float[] {0, 1}, LatentMask.of(halves(new Color(127, 127, 127),
                new Color(128, 128, 128), 16, 8), 16, 8, 8));
    }
}
