package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoding the final latents of every pipeline case against the official pipeline's VAE stages, final image
 * and PNG (tolerances from each case's {@code tolerances.per_tensor_atol}).
 */
class SdxlVaeGoldenTest {
    /** Our stage name -> golden tensor name. */
    private static final Map<String, String> STAGES = new LinkedHashMap<>();

    static {
        STAGES.put("z", "vae_input");
        STAGES.put("post_quant_conv", "vae.post_quant_conv");
        STAGES.put("decoder.conv_in", "vae.decoder.conv_in");
        STAGES.put("decoder.mid_block", "vae.decoder.mid_block");
        STAGES.put("decoder", "vae_decoded");
    }

    /**
     * Batched and single decodes may sum in a different order (the CPU kernels block work by batch), so they
     * agree to float32 rounding, well inside the image tolerance 1e-4, rather than bit for bit.
     */
    private static final double BATCH_ATOL = 1e-5;
    private static SdxlVae vae;

    @BeforeAll
    static void load() {
        vae = new SdxlVae(TestEngine.folder(Golden.model().resolve("vae")), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype(), VaeOptions.DEFAULT);
    }

    @AfterAll
    static void close() {
        if (vae != null) {
            vae.close();
        }
    }

    static NDArray goldenArray(GoldenTensors golden, String name, NDManager manager) {
        return manager.create(golden.floats(name), new Shape(golden.shape(name)));
    }

    static JsonNode tolerances(String caseName) throws IOException {
        Path json = Golden.caseDir(caseName).resolve(caseName + ".json");
        return new ObjectMapper().readTree(json.toFile()).get("tolerances").get("per_tensor_atol");
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "plain_sdxl_euler", "controlnet_text_only"})
    void decodesFinalLatentsLikeDiffusers(String name) throws IOException {
        JsonNode atol = tolerances(name);
        try (GoldenTensors golden = GoldenTensors.open(name); NDManager m = TestEngine.manager().newSubManager()) {
            NDArray latents = goldenArray(golden, "final_latents", m);
            Map<String, Double> errors = new LinkedHashMap<>();
            NDArray image = vae.decode(m, latents, (stage, value) -> {
                String g = STAGES.get(stage);
                if (g != null) {
                    errors.put(g, golden.assertClose(g, value, atol.get(g).asDouble()));
                }
            });
            assertEquals(STAGES.size(), errors.size(), () -> "stages seen: " + errors.keySet());
            assertEquals(DataType.FLOAT32, image.getDataType());
            golden.assertClose("image", image, atol.get("image").asDouble());
            assertPngWithinOneLevel(Golden.caseDir(name).resolve("image_0.png"), image.get(0).toFloatArray(),
                    image.getShape());
        }
    }

    /** A decoder loaded and run at another intra-op thread count than the engine's (oneDNN partitions by it). */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4})
    void decodesLikeDiffusersAtOtherThreadCounts(int threads) throws IOException {
        String name = "two_subjects_ddim";
        double atol = tolerances(name).get("image").asDouble();
        try (GoldenTensors golden = GoldenTensors.open(name)) {
            TestEngine.withIntraOpThreads(threads, () -> {
                try (SdxlVae loaded = new SdxlVae(TestEngine.folder(Golden.model().resolve("vae")),
                        TestEngine.manager(), TestEngine.kernels(), TestEngine.dtype(), VaeOptions.DEFAULT);
                        NDManager m = TestEngine.manager().newSubManager()) {
                    golden.assertClose("image", loaded.decode(m, goldenArray(golden, "final_latents", m)), atol);
                }
            });
        }
    }

    /** The reference PNG is round(255 x image); ours may differ by one level where x*255 sits near .5. */
    static void assertPngWithinOneLevel(Path png, float[] chw, Shape shape) throws IOException {
        BufferedImage expected = ImageIO.read(png.toFile());
        int h = (int) shape.get(2);
        int w = (int) shape.get(3);
        assertEquals(w, expected.getWidth());
        assertEquals(h, expected.getHeight());
        int worst = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = expected.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    int level = (rgb >> (16 - 8 * c)) & 0xff;
                    int ours = Math.round(255f * chw[(c * h + y) * w + x]);
                    worst = Math.max(worst, Math.abs(ours - level));
                }
            }
        }
        System.out.printf("golden %s: max level difference %d%n", png.getParent().getFileName() + "/"
                + png.getFileName(), worst);
        assertTrue(worst <= 1, png + ": a channel differs by " + worst + " levels");
    }

    @Test
    void batchOfTwoEqualsEachDecodedAlone() throws IOException {
        try (GoldenTensors first = GoldenTensors.open("single_subject_euler");
                GoldenTensors second = GoldenTensors.open("plain_sdxl_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray a = goldenArray(first, "final_latents", m);
            NDArray b = goldenArray(second, "final_latents", m);
            NDArray batch = vae.decode(m, a.concat(b, 0));
            assertEquals(new Shape(2, 3, 64, 64), batch.getShape());
            double diffA = maxAbsDiff(batch.get(0).toFloatArray(), vae.decode(m, a).toFloatArray());
            double diffB = maxAbsDiff(batch.get(1).toFloatArray(), vae.decode(m, b).toFloatArray());
            System.out.printf("vae batch of 2 vs alone: max-abs difference %.3g / %.3g%n", diffA, diffB);
            assertTrue(diffA <= BATCH_ATOL && diffB <= BATCH_ATOL, "batched decoding differs: " + diffA + ", " + diffB);
            first.assertClose("image", batch.get(0).expandDims(0), tolerances("single_subject_euler").get("image").asDouble());
            second.assertClose("image", batch.get(1).expandDims(0), tolerances("plain_sdxl_euler").get("image").asDouble());
        }
    }

    @Test
    void slicedDecodingGivesTheSamePixels() throws IOException {
        try (GoldenTensors first = GoldenTensors.open("two_subjects_ddim");
                GoldenTensors second = GoldenTensors.open("controlnet_text_only");
                NDManager m = TestEngine.manager().newSubManager();
                SdxlVae sliced = new SdxlVae(TestEngine.folder(Golden.model().resolve("vae")), TestEngine.manager(),
                        TestEngine.kernels(), TestEngine.dtype(), new VaeOptions(VaeOptions.Upcast.AUTO, true, false, 0))) {
            NDArray latents = goldenArray(first, "final_latents", m).concat(goldenArray(second, "final_latents", m), 0);
            double diff = maxAbsDiff(vae.decode(m, latents).toFloatArray(), sliced.decode(m, latents).toFloatArray());
            System.out.printf("vae sliced vs batched: max-abs difference %.3g%n", diff);
            assertTrue(diff <= BATCH_ATOL, "sliced decoding differs by " + diff);
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        return GoldenTensors.maxAbsDiff(a, b);
    }
}
