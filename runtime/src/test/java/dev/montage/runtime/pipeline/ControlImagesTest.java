package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** Control pictures to ControlNet tensors, against diffusers' preparation of the golden ControlNet case. */
class ControlImagesTest {

    @Test
    void theGoldenControlImageBecomesTheReferenceTensor() throws IOException {
        BufferedImage png = ImageIO.read(Golden.caseDir("controlnet_text_only").resolve("control_image.png").toFile());
        Control control = Control.fromRequestOptions("canny", png, null, 0.8, 0, 1, Map.of("preprocess", "none"));
        try (GoldenTensors golden = GoldenTensors.open("controlnet_text_only");
                NDManager m = TestEngine.manager().newSubManager()) {
            RgbImage picture = ControlImages.conditioningImage(0, control, null, 64, 64);
            NDArray tensor = ControlImages.toTensor(m, picture, 2);
            golden.assertClose("controlnet.cond_image", tensor, 1e-6);
        }
    }

    @Test
    void otherSizesAreResizedWithPillowsLanczos() {
        BufferedImage picture = gradient(100, 60);
        RgbImage prepared = ControlImages.conditioningImage(0, Control.fromRequestOptions("depth", picture, null, 1,
                0, 1, Map.of("preprocess", "none")), null, 64, 48);
        RgbImage expected = PilResampler.resize(RgbImage.of(picture, null), 64, 48, ResampleFilter.LANCZOS);
        assertEquals(64, prepared.width());
        assertEquals(48, prepared.height());
        assertArrayEquals(expected.pixels(), prepared.pixels());
    }

    @Test
    void thePreprocessorGetsItsOwnOptionsAndNoneSkipsIt() {
        List<Map<String, String>> calls = new ArrayList<>();
        BufferedImage edges = gradient(32, 16);
        ConditionPreprocessor preprocessor = new Fake("canny", (input, options, width, height) -> {
            calls.add(options.given());
            assertEquals(32, width);
            assertEquals(16, height);
            return edges;
        }, null);
        BufferedImage photo = gradient(40, 40);
        RgbImage out = ControlImages.conditioningImage(0, Control.fromRequestOptions("canny", photo, null, 1, 0, 1,
                Map.of("low", "50", "context", "full")), preprocessor, 32, 16);
        assertEquals(List.of(Map.of("low", "50")), calls);
        assertArrayEquals(RgbImage.of(edges, null).pixels(), out.pixels());

        RgbImage untouched = ControlImages.conditioningImage(0, Control.fromRequestOptions("canny", photo, null, 1,
                0, 1, Map.of("preprocess", "none")), preprocessor, 40, 40);
        assertEquals(1, calls.size(), "preprocess=none does not run the preprocessor");
        assertArrayEquals(RgbImage.of(photo, null).pixels(), untouched.pixels());
    }

    @Test
    void aRefusedOptionNamesTheControl() {
        ConditionPreprocessor strict = new Fake("canny", (input, options, width, height) -> {
            throw new IllegalArgumentException("unknown option 'lo'");
        }, null);
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> ControlImages
                .conditioningImage(2, new Control("canny", gradient(8, 8), 1, 0, 1, Map.of("lo", "1")), strict, 8, 8));
        assertEquals(List.of(new FieldError("controls[2]", "unknown option 'lo'")), e.errors());
    }

    @Test
    void aDataControlIsRenderedByItsPreprocessor() {
        byte[] json = "{\"people\": []}".getBytes(StandardCharsets.UTF_8);
        BufferedImage skeleton = gradient(24, 16);
        List<String> calls = new ArrayList<>();
        ConditionPreprocessor pose = new Fake("pose", (input, options, width, height) -> {
            throw new AssertionError("a data control is not a picture");
        }, (data, source, options, width, height) -> {
            calls.add(new String(data, StandardCharsets.UTF_8) + " from " + source + " " + options.given() + " "
                    + width + "x" + height);
            if (options.given().containsKey("bad")) {
                throw new IllegalArgumentException(source + " is not OpenPose JSON");
            }
            return skeleton;
        });
        RgbImage out = ControlImages.conditioningImage(0, Control.fromRequestOptions("pose", null,
                new ControlData(json, "pose.json"), 1, 0, 1, Map.of("stick_width", "auto", "context", "full")), pose,
                24, 16);
        assertEquals(List.of("{\"people\": []} from pose.json {stick_width=auto} 24x16"), calls);
        assertArrayEquals(RgbImage.of(skeleton, null).pixels(), out.pixels());

        assertEquals("controls[1]: pose.json is not OpenPose JSON", assertThrows(InvalidRequestException.class,
                () -> ControlImages.conditioningImage(1, Control.ofData("pose", json, "pose.json", 1, 0, 1,
                        Map.of("bad", "1")), pose, 24, 16)).getMessage());
        assertEquals("controls[2]: given as a data file (pose.json), which needs its preprocessor: "
                + "preprocess=none takes a picture only", assertThrows(InvalidRequestException.class,
                        () -> ControlImages.conditioningImage(2, Control.fromRequestOptions("pose", null,
                                new ControlData(json, "pose.json"), 1, 0, 1, Map.of("preprocess", "none")), pose, 24,
                                16)).getMessage());
        assertEquals(2, calls.size(), "refused data controls never reach the preprocessor");
        ConditionPreprocessor picturesOnly = new Fake("canny", (input, options, width, height) -> input, null);
        assertEquals("controls[0]: control type 'canny' takes a picture, not a data file (edges.json)",
                assertThrows(InvalidRequestException.class, () -> ControlImages.conditioningImage(0,
                        Control.ofData("canny", json, "edges.json", 1, 0, 1, Map.of()), picturesOnly, 24, 16))
                        .getMessage());
    }

    @Test
    void rowsRepeatThePictureAndNothingLeaks() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            int before = m.getManagedArrays().size();
            NDArray t = ControlImages.toTensor(m, RgbImage.of(gradient(8, 8), null), 4);
            assertEquals(before + 1, m.getManagedArrays().size());
            float[] v = t.toFloatArray();
            int row = 3 * 64;
            for (int r = 1; r < 4; r++) {
                for (int i = 0; i < row; i++) {
                    assertEquals(v[i], v[r * row + i]);
                }
            }
            assertTrue(v[row - 1] > 0 && v[row - 1] <= 1);
        }
        RgbImage one = RgbImage.of(gradient(3, 3), null);
        assertSame(one, PilResampler.resize(one, 3, 3, ResampleFilter.LANCZOS));
    }

    /** The picture entry of a preprocessor. */
    private interface PictureEntry {
        BufferedImage preprocess(BufferedImage input, Options options, int width, int height);
    }

    /** The data-file entry of a preprocessor. */
    private interface DataEntry {
        BufferedImage preprocess(byte[] data, String source, Options options, int width, int height);
    }

    /** A preprocessor of one type made of its entries; without a data entry it keeps the interface's refusal. */
    private record Fake(String type, PictureEntry picture, DataEntry data) implements ConditionPreprocessor {
        @Override
        public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
            return picture.preprocess(input, options, width, height);
        }

        @Override
        public BufferedImage preprocessData(byte[] bytes, String source, Options options, int width,
                int height) {
            return data == null ? ConditionPreprocessor.super.preprocessData(bytes, source, options, width, height)
                    : data.preprocess(bytes, source, options, width, height);
        }
    }

    private static BufferedImage gradient(int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, (x * 255 / width) << 16 | (y * 255 / height) << 8 | ((x + y) * 7 & 0xFF));
            }
        }
        return image;
    }
}
