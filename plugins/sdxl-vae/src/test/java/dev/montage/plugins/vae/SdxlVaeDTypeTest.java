package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Which dtype the VAE computes in, and decoding on reduced-precision pipelines. The references were computed in
 * float32, so these compare against them with tolerances that fit the dtype, not the golden ones.
 */
class SdxlVaeDTypeTest {
    /** float32 compute on float16-rounded latents and weights (what diffusers' upcast_vae computes on). */
    private static final double UPCAST_FP16_ATOL = 2e-3;
    /** float16 activations (11 mantissa bits). */
    private static final double FP16_ATOL = 1e-2;
    /** bf16 keeps 8 mantissa bits: a few 1/256 steps through the decoder. */
    static final double BF16_ATOL = 5e-2;

    @Test
    void upcastPolicyFollowsDiffusers() {
        VaeOptions.Upcast auto = VaeOptions.Upcast.AUTO;
        assertEquals(ComputeDType.FLOAT32, auto.dtypeFor(ComputeDType.FLOAT16, true));
        assertEquals(ComputeDType.FLOAT16, auto.dtypeFor(ComputeDType.FLOAT16, false));
        assertEquals(ComputeDType.BFLOAT16, auto.dtypeFor(ComputeDType.BFLOAT16, true));
        assertEquals(ComputeDType.FLOAT32, auto.dtypeFor(ComputeDType.FLOAT32, true));
        assertEquals(ComputeDType.FLOAT32, VaeOptions.Upcast.ALWAYS.dtypeFor(ComputeDType.BFLOAT16, false));
        assertEquals(ComputeDType.FLOAT16, VaeOptions.Upcast.NEVER.dtypeFor(ComputeDType.FLOAT16, true));
    }

    @Test
    void optionsAreReadTyped() {
        assertEquals(new VaeOptions(VaeOptions.Upcast.AUTO, false, false, 0), VaeOptions.DEFAULT);
        assertEquals(new VaeOptions(VaeOptions.Upcast.ALWAYS, true, false, 0),
                VaeOptions.of(Options.of("options.decoder", Map.of("upcast", "Always", "slicing", "true"))));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> VaeOptions.of(Options.of("options.decoder", Map.of("upcast", "sometimes"))));
        assertEquals("options.decoder.upcast: expected one of auto, always, never, got 'sometimes'", bad.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> VaeOptions.of(Options.of("options.decoder", Map.of("slicing", "yes"))));
    }

    @Test
    void float16PipelineDecodesInFloat32() {
        double err = decodeGolden(ComputeDType.FLOAT16, VaeOptions.DEFAULT, ComputeDType.FLOAT32, UPCAST_FP16_ATOL);
        System.out.printf("vae fp16 pipeline (upcast to fp32): image max-abs error %.3g%n", err);
    }

    @Test
    void float16PipelineMayKeepFloat16() {
        VaeOptions never = new VaeOptions(VaeOptions.Upcast.NEVER, false, false, 0);
        double err = decodeGolden(ComputeDType.FLOAT16, never, ComputeDType.FLOAT16, FP16_ATOL);
        System.out.printf("vae fp16 pipeline (no upcast): image max-abs error %.3g%n", err);
    }

    @Test
    void bfloat16PipelineDecodesAndEncodesInBfloat16() {
        double err = decodeGolden(ComputeDType.BFLOAT16, VaeOptions.DEFAULT, ComputeDType.BFLOAT16, BF16_ATOL);
        System.out.printf("vae bf16 pipeline: image max-abs error %.3g%n", err);
    }

    /**
     * The golden latents are 8x8, so the mid-block attention sees 64 positions; at 16x16 it sees 256, past the bf16
     * kernels' few-keys limit, and takes their chunked path. Compared with a float32 decode of the same latents.
     */
    @Test
    void bfloat16DecodeOfLargerLatentsStaysCloseToFloat32() {
        Kernels kernels = TestEngine.kernels();
        Path vaeFolder = Golden.model().resolve("vae");
        try (LocalModelFolder f32Folder = new LocalModelFolder(vaeFolder, Optional.empty(),
                TestEngine.engine().device(), ComputeDType.FLOAT32, kernels);
                LocalModelFolder bf16Folder = new LocalModelFolder(vaeFolder, Optional.empty(),
                        TestEngine.engine().device(), ComputeDType.BFLOAT16, kernels);
                SdxlVae f32 = new SdxlVae(f32Folder, TestEngine.manager(), kernels, ComputeDType.FLOAT32,
                        VaeOptions.DEFAULT);
                SdxlVae bf16 = new SdxlVae(bf16Folder, TestEngine.manager(), kernels, ComputeDType.BFLOAT16,
                        VaeOptions.DEFAULT);
                GoldenTensors golden = GoldenTensors.open("single_subject_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray latents = SdxlVaeGoldenTest.goldenArray(golden, "final_latents", m).repeat(2, 2).repeat(3, 2);
            assertEquals(new Shape(1, 4, 16, 16), latents.getShape());

            NDArray expected = f32.decode(m, latents);
            NDArray image = bf16.decode(m, kernels.cast(latents, ComputeDType.BFLOAT16));

            assertEquals(expected.getShape(), image.getShape());
            float err = expected.sub(image).abs().max().getFloat();
            System.out.printf("vae bf16 decode of 16x16 latents: max-abs error %.3g against float32%n", err);
            assertTrue(err < BF16_ATOL, "bf16 decode off by " + err);
        }
    }

    /** Decodes single_subject_euler's latents, handed over in the pipeline dtype, then encodes the image back. */
    private static double decodeGolden(ComputeDType compute, VaeOptions options, ComputeDType expectedVaeDType,
            double atol) {
        Kernels kernels = TestEngine.kernels();
        Path vaeFolder = Golden.model().resolve("vae");
        try (LocalModelFolder folder = new LocalModelFolder(vaeFolder, Optional.empty(), TestEngine.engine().device(),
                compute, kernels);
                SdxlVae vae = new SdxlVae(folder, TestEngine.manager(), kernels, compute, options);
                GoldenTensors golden = GoldenTensors.open("single_subject_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            assertEquals(expectedVaeDType, vae.dtype());
            NDArray latents = kernels.cast(SdxlVaeGoldenTest.goldenArray(golden, "final_latents", m), compute);
            NDArray image = vae.decode(m, latents);
            assertEquals(DataType.FLOAT32, image.getDataType());
            double err = golden.assertClose("image", image, atol);
            try (LatentDecoder.Posterior posterior = vae.encode(m, kernels.cast(image, compute))) {
                assertEquals(new Shape(1, 4, 8, 8), posterior.mean().getShape());
                assertEquals(DataType.FLOAT32, posterior.mean().getDataType());
            }
            return err;
        }
    }
}
