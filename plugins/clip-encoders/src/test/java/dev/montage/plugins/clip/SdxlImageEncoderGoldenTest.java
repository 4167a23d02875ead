package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.nn.Weights;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The subject encoder against the official pipeline's tensors: {@code pixel_values} from each case's
 * {@code subject_<i>.png} (tolerance 1e-5), {@code image_embeds} from the stored pixel values and end to end from
 * the PNGs (1e-4).
 */
class SdxlImageEncoderGoldenTest {
    private static SdxlImageEncoder encoder;

    @BeforeAll
    static void load() {
        encoder = new SdxlImageEncoder(TestEngine.folder(Golden.model().resolve("image_encoder")),
                ImagePreparation.OFFICIAL, TestEngine.manager(), TestEngine.kernels(), TestEngine.dtype());
    }

    @AfterAll
    static void close() {
        if (encoder != null) {
            encoder.close();
        }
    }

    static List<BufferedImage> subjects(String caseName) {
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 0; Files.exists(Golden.caseDir(caseName).resolve("subject_" + i + ".png")); i++) {
            images.add(ImageFiles.read(Golden.caseDir(caseName).resolve("subject_" + i + ".png")));
        }
        return images;
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "controlnet_text_only"})
    void pixelValuesFromTheSubjectPictures(String caseName) {
        try (GoldenTensors golden = GoldenTensors.open(caseName); NDManager m = TestEngine.manager().newSubManager()) {
            List<BufferedImage> images = subjects(caseName);
            assertEquals(golden.shape("pixel_values")[0], images.size());
            golden.assertClose("pixel_values", encoder.processor().pixelValues(m, images), 1e-5);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "controlnet_text_only"})
    void imageEmbedsFromThePixelValues(String caseName) {
        try (GoldenTensors golden = GoldenTensors.open(caseName); NDManager m = TestEngine.manager().newSubManager()) {
            NDArray pixels = m.create(golden.floats("pixel_values"), new Shape(golden.shape("pixel_values")));
            golden.assertClose("image_embeds", encoder.encodePixels(pixels, ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "controlnet_text_only"})
    void imageEmbedsEndToEnd(String caseName) {
        try (GoldenTensors golden = GoldenTensors.open(caseName); NDManager m = TestEngine.manager().newSubManager()) {
            golden.assertClose("image_embeds", encoder.encode(m, subjects(caseName), ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES), 1e-4);
        }
    }

    /**
     * IP-Adapter's {@code clip_image_embeds} of {@code ip_adapter_euler}: the projected pooled output of its subject
     * picture, given as is (512x512).
     */
    @Test
    void projectedImageEmbedsOfTheIpAdapterCase() {
        try (GoldenTensors golden = GoldenTensors.open("ip_adapter_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray pixels = m.create(golden.floats("pixel_values"), new Shape(golden.shape("pixel_values")));
            golden.assertClose("clip_image_embeds", encoder.encodePixels(pixels, ImageEncoder.Features.IMAGE_EMBEDS),
                    1e-4);
            List<BufferedImage> picture = List.of(ImageFiles.read(Golden.caseDir("ip_adapter_euler").resolve("subject_0.png")));
            golden.assertClose("clip_image_embeds", encoder.encode(m, picture, ImageEncoder.Features.IMAGE_EMBEDS),
                    1e-4);
        }
    }

    /** A blank picture is all-zero pixel values after preprocessing, as IP-Adapter Plus encodes it. */
    @Test
    void blankPicturesAreAllZeroPixelValues() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            for (ImageEncoder.Features features : ImageEncoder.Features.values()) {
                assertArrayEquals(encoder.encodePixels(m.zeros(new Shape(2, 3, 32, 32)), features).toFloatArray(),
                        encoder.encodeBlank(m, 2, features).toFloatArray(), features.name());
            }
        }
    }

    @Test
    void everyInputPictureLoadsAndPreprocesses() throws IOException {
        List<Path> files;
        try (Stream<Path> sets = Files.list(Golden.dir().resolve("inputs"))) {
            files = sets.filter(p -> p.getFileName().toString().startsWith("set"))
                    .flatMap(SdxlImageEncoderGoldenTest::pngs)
                    .sorted()
                    .toList();
        }
        List<BufferedImage> images = files.stream().map(ImageFiles::read).toList();
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray pixels = encoder.processor().pixelValues(m, images);
            assertArrayEquals(new long[] {files.size(), 3, 32, 32}, pixels.getShape().getShape());
            NDArray embeds = encoder.encode(m, images, ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
            assertArrayEquals(new long[] {files.size(), 32},
                    encoder.encode(m, images, ImageEncoder.Features.IMAGE_EMBEDS).getShape().getShape());
            assertArrayEquals(new long[] {files.size(), 65, 32}, embeds.getShape().getShape());
        }
        System.out.println("preprocessed and encoded " + files.size() + " input pictures");
    }

    @Test
    void encodingIsDeterministicAndLeavesNoArraysBehind() {
        List<BufferedImage> images = subjects("two_subjects_ddim");
        try (NDManager warmUp = TestEngine.manager().newSubManager()) {
            encoder.encode(warmUp, images, ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
        }
        int before = TestEngine.manager().getManagedArrays().size();
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray a = encoder.encode(m, images, ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
            NDArray b = encoder.encode(m, images, ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
            assertArrayEquals(a.toFloatArray(), b.toFloatArray());
            assertEquals(2, m.getManagedArrays().size());
        }
        assertEquals(before, TestEngine.manager().getManagedArrays().size());
    }

    @Test
    void intermediatesDoNotOutliveTheForwardPass() {
        try (ClipVisionModel model = new ClipVisionModel(TestEngine.folder(Golden.model().resolve("image_encoder")),
                TestEngine.manager(), TestEngine.kernels());
                GoldenTensors golden = GoldenTensors.open("two_subjects_ddim");
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray pixels = m.create(golden.floats("pixel_values"), new Shape(golden.shape("pixel_values")));
            model.penultimate(pixels);
            // the pixels and the hidden states, nothing of the layers in between
            assertEquals(2, m.getManagedArrays().size());
        }
    }

    @Test
    void encoderLayerIntermediatesDoNotOutliveTheirCall() {
        LocalModelFolder folder = TestEngine.folder(Golden.model().resolve("image_encoder"));
        try (NDManager weights = TestEngine.manager().newSubManager(); NDManager m = TestEngine.manager().newSubManager()) {
            ClipEncoderLayer layer = new ClipEncoderLayer(Weights.loading(folder.weights(), weights,
                    TestEngine.kernels()).prefixed("vision_model.encoder.layers.0"), ClipConfig.vision(folder.config()));
            NDArray x = m.randomNormal(new Shape(2, 65, 32));
            NDArray out = layer.forward(x, null);
            assertEquals(m, out.getManager());
            assertEquals(2, m.getManagedArrays().size());
        }
    }

    private static Stream<Path> pngs(Path dir) {
        try {
            return Files.list(dir).filter(p -> p.toString().endsWith(".png")).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
