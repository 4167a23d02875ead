package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ModelConfig;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings of {@link ClipImageProcessor} and the preparation options, on synthetic pictures. */
class ClipImageProcessorTest {
    private static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    private static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

    @Test
    void clipDefaults() {
        ClipImageProcessor p = ClipImageProcessor.clipDefaults(ImagePreparation.OFFICIAL);
        assertEquals(224, p.height());
        assertEquals(224, p.width());
        float[] values = p.pixelValues(filled(300, 200, new Color(255, 128, 0)));
        assertEquals(3 * 224 * 224, values.length);
        assertEquals(expected(255, 0), values[0]);
        assertEquals(expected(128, 1), values[224 * 224 + 5]);
        assertEquals(expected(0, 2), values[2 * 224 * 224 + 224 * 224 - 1]);
    }

    @Test
    void legacyIntegerSizesAndASingleMean() {
        ClipImageProcessor p = ClipImageProcessor.fromConfig(new ModelConfig("preprocessor_config.json",
                Map.of("size", 16, "crop_size", 12, "image_mean", 0.5, "image_std", 0.5)), ImagePreparation.OFFICIAL);
        assertEquals(12, p.height());
        assertEquals(12, p.width());
        assertEquals(1f, p.pixelValues(filled(40, 40, Color.WHITE))[0]);
    }

    @Test
    void fixedSizeWithoutCrop() {
        ClipImageProcessor p = ClipImageProcessor.fromConfig(new ModelConfig("preprocessor_config.json",
                Map.of("size", Map.of("height", 20, "width", 30), "do_center_crop", false, "do_normalize", false,
                        "do_rescale", false)), ImagePreparation.OFFICIAL);
        assertEquals(20, p.height());
        assertEquals(30, p.width());
        float[] values = p.pixelValues(filled(64, 64, new Color(7, 8, 9)));
        assertEquals(3 * 20 * 30, values.length);
        assertEquals(7f, values[0]);
        assertEquals(9f, values[values.length - 1]);
    }

    @Test
    void aCropLargerThanThePictureIsZeroPaddedBeforeNormalising() {
        ClipImageProcessor p = ClipImageProcessor.fromConfig(new ModelConfig("preprocessor_config.json",
                Map.of("size", Map.of("shortest_edge", 8), "crop_size", Map.of("height", 10, "width", 11))),
                ImagePreparation.OFFICIAL);
        float[] values = p.pixelValues(filled(32, 32, Color.WHITE));
        // top = (8 - 10) // 2 = -1, left = (8 - 11) // 2 = -2: one padded row on top, two padded columns on the left
        assertEquals(expected(0, 0), values[0]);
        assertEquals(expected(0, 0), values[11 + 1]);
        assertEquals(expected(255, 0), values[11 + 2]);
        assertEquals(expected(255, 0), values[8 * 11 + 9]);
        assertEquals(expected(0, 0), values[8 * 11 + 10]);
        assertEquals(expected(0, 0), values[9 * 11 + 5]);
    }

    @Test
    void padToSquareKeepsTheAspectRatio() {
        ImagePreparation pad = ImagePreparation.OFFICIAL.padToSquare(Color.BLUE);
        ClipImageProcessor p = ClipImageProcessor.clipDefaults(pad);
        float[] values = p.pixelValues(filled(200, 100, Color.RED));
        int plane = 224 * 224;
        // top rows are the blue padding, the middle row is the red picture
        assertEquals(expected(0, 0), values[0]);
        assertEquals(expected(255, 2), values[2 * plane]);
        assertEquals(expected(255, 0), values[112 * 224 + 100]);
        assertEquals(expected(0, 2), values[2 * plane + 112 * 224 + 100]);
        BufferedImage square = p.subjectPicture(filled(200, 100, Color.RED));
        assertEquals(ClipImageProcessor.SUBJECT_SIZE, square.getWidth());
        assertEquals(ClipImageProcessor.SUBJECT_SIZE, square.getHeight());
        assertEquals(0x0000ff, square.getRGB(0, 0) & 0xffffff);
        assertEquals(0xff0000, square.getRGB(256, 256) & 0xffffff);
    }

    @Test
    void transparentPixelsDropOrComposite() {
        BufferedImage cutOut = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB); // transparent black
        ClipImageProcessor official = ClipImageProcessor.clipDefaults(ImagePreparation.OFFICIAL);
        ClipImageProcessor onGreen = ClipImageProcessor.clipDefaults(
                ImagePreparation.OFFICIAL.compositeAlphaOnto(Color.GREEN));
        assertEquals(expected(0, 1), official.pixelValues(cutOut)[224 * 224]);
        assertEquals(expected(255, 1), onGreen.pixelValues(cutOut)[224 * 224]);
    }

    @Test
    void batchesStackInOrder() {
        ClipImageProcessor p = ClipImageProcessor.fromConfig(new ModelConfig("p", Map.of("size", 4, "crop_size", 4)),
                ImagePreparation.OFFICIAL);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray batch = p.pixelValues(m, List.of(filled(9, 9, Color.BLACK), filled(9, 9, Color.WHITE)));
            assertArrayEquals(new long[] {2, 3, 4, 4}, batch.getShape().getShape());
            assertEquals(expected(255, 0), batch.get(1, 0, 0, 0).getFloat());
            assertEquals(expected(0, 0), batch.get(0, 0, 0, 0).getFloat());
        }
    }

    @Test
    void aFolderWithoutPreprocessorConfigGetsClipDefaults(@TempDir Path dir) throws Exception {
        assertEquals(224, ClipImageProcessor.forModel(TestEngine.folder(dir), ImagePreparation.OFFICIAL).height());
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"crop_size\": {\"height\": 40, \"width\": 40}}");
        assertEquals(40, ClipImageProcessor.forModel(TestEngine.folder(dir), ImagePreparation.OFFICIAL).height());
    }

    @Test
    void badSettingsNameTheFileAndKey() {
        assertMessage(Map.of("resample", 0), "resample");
        assertMessage(Map.of("size", Map.of("longest_edge", 3)), "size");
        assertMessage(Map.of("crop_size", Map.of("shortest_edge", 3)), "crop_size");
        assertMessage(Map.of("crop_size", -1), "crop_size");
        assertMessage(Map.of("image_mean", List.of(0.5, 0.5)), "image_mean");
        assertMessage(Map.of("image_std", List.of(0.5, 0, 0.5)), "image_std");
    }

    private static void assertMessage(Map<String, Object> settings, String key) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClipImageProcessor.fromConfig(
                new ModelConfig("image_encoder/preprocessor_config.json", settings), ImagePreparation.OFFICIAL));
        assertTrue(e.getMessage().contains("image_encoder/preprocessor_config.json") && e.getMessage().contains(key),
                e.getMessage());
    }

    /** What transformers computes for an 8-bit value: float64 rescale, float32 normalisation. */
    private static float expected(int v, int channel) {
        return ((float) (v * (1.0 / 255)) - MEAN[channel]) / STD[channel];
    }

    static BufferedImage filled(int w, int h, Color color) {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                image.setRGB(x, y, color.getRGB());
            }
        }
        return image;
    }
}
