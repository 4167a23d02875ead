package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** FreeU: diffusers' Fourier filter of the skips, and where the UNet applies it and the backbone scales. */
class FreeUTest {

    /**
     * The filter agrees with diffusers' {@code fourier_filter(x, 1, scale)} (numpy's FFT, fftshift and the 2 × 2 mask
     * around the centre, transcribed) on maps of even, odd and unit sides.
     */
    @Test
    void theSkipFilterIsDiffusersFourierFilter() {
        assertFilters(new long[] {1, 1, 4, 4}, 0.2f, new float[] {-0.006047555711120367f, 0.2673422396183014f,
            0.43423545360565186f, 0.704871416091919f, 0.6856558322906494f, 0.4704882800579071f, 0.3708517253398895f,
            0.21918898820877075f, 0.1440896838903427f, -0.14405249059200287f, -0.3098863959312439f,
            -0.6322921514511108f, -0.7141693830490112f, -0.5672377347946167f, -0.49024415016174316f,
            -0.381064236164093f});
        assertFilters(new long[] {1, 2, 5, 3}, 0.9f, new float[] {0.09057670086622238f, 0.43425440788269043f,
            0.7211006283760071f, 0.8859749436378479f, 0.9345133304595947f, 0.8801935315132141f, 0.7000077366828918f,
            0.4065645635128021f, 0.07022203505039215f, -0.2655004560947418f, -0.5728718638420105f,
            -0.8193666338920593f, -0.9520581364631653f, -0.9346287250518799f, -0.8136549592018127f,
            -0.5783096551895142f, -0.24470776319503784f, 0.10492204129695892f, 0.4275011718273163f,
            0.6992411613464355f, 0.8921630382537842f, 0.9493135213851929f, 0.8630809187889099f, 0.6857789158821106f,
            0.4127461314201355f, 0.06847410649061203f, -0.28610095381736755f, -0.5952132344245911f,
            -0.8175185322761536f, -0.9566864967346191f});
        assertFilters(new long[] {1, 1, 1, 2}, 0.2f, new float[] {0.01996668241918087f, 0.09057725965976715f});
        assertFilters(new long[] {2, 1, 3, 2}, 1.5f, new float[] {0.27849459648132324f, 0.7592296600341797f,
            1.0845067501068115f, 1.3626418113708496f, 1.403649926185608f, 1.3543214797973633f, 0.9321122765541077f,
            0.48679012060165405f, 0.11870066821575165f, -0.41424083709716797f, -0.747999370098114f,
            -1.1293061971664429f});
    }

    /** Input sin(0.37 k + 0.1) over the flat index k, as the numpy reference draws it. */
    private static void assertFilters(long[] shape, float scale, float[] expected) {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            float[] x = new float[expected.length];
            for (int k = 0; k < x.length; k++) {
                x[k] = (float) Math.sin(0.37 * k + 0.1);
            }
            NDArray out = FreeU.fourierFilter(m.create(x, new Shape(shape)), scale, TestEngine.kernels());
            assertArrayEquals(expected, out.toFloatArray(), 2e-6f, Arrays.toString(shape));
            assertEquals(new Shape(shape), out.getShape());
        }
    }

    /**
     * With every scale 1 the UNet is the plain one exactly; FreeU's scales leave everything before the up blocks alone
     * and change the first up block's output and the prediction; the option reads four scales.
     */
    @Test
    void theUNetScalesItsTwoCoarsestUpBlocks() {
        Random random = new Random(11);
        try (NDManager m = TestEngine.manager().newSubManager();
                SdxlUNet plain = GoldenModel.unet();
                SdxlUNet identity = withFreeU(new FreeU(1, 1, 1, 1));
                SdxlUNet sdxl = withFreeU(new FreeU(0.9f, 0.2f, 1.3f, 1.4f))) {
            DenoisingInput input = SdxlUNetTest.randomInput(m, random, 8, 8);
            float[] base = plain.predictNoise(m, input, GoldenModel.context(1)).toFloatArray();
            assertArrayEquals(base, identity.predictNoise(m, input, GoldenModel.context(1)).toFloatArray());
            Map<String, NDArray> plainStages = stages(m, plain, input);
            Map<String, NDArray> freeStages = stages(m, sdxl, input);
            assertArrayEquals(plainStages.get("mid_block").toFloatArray(), freeStages.get("mid_block").toFloatArray());
            assertFalse(Arrays.equals(plainStages.get("up_blocks.0").toFloatArray(),
                    freeStages.get("up_blocks.0").toFloatArray()), "the first up block is scaled");
            assertFalse(Arrays.equals(base, sdxl.predictNoise(m, input, GoldenModel.context(1)).toFloatArray()));
        }
        assertEquals(Optional.of(new FreeU(0.9f, 0.2f, 1.3f, 1.4f)), FreeU.of(Options.of("options.unet",
                Map.of("freeu", " 0.9, 0.2,1.3 ,1.4"))));
        assertEquals(Optional.empty(), FreeU.of(Options.NONE));
        IllegalArgumentException three = assertThrows(IllegalArgumentException.class, () -> FreeU.of(Options.of(
                "options.unet", Map.of("freeu", "0.9,0.2,1.3"))));
        assertTrue(three.getMessage().contains("options.unet.freeu") && three.getMessage().contains("s1,s2,b1,b2"),
                three.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FreeU.of(Options.of("options.unet", Map.of("freeu",
                "0.9,0.0,1.3,1.4"))), "a scale of 0, which diffusers would take as FreeU off");
        assertEquals(Optional.of(new FreeU(0.9f, 0.05f, 1, 10)), FreeU.of(Options.of("options.unet",
                Map.of("freeu", "0.9,0.05,1,10"))));
    }

    private static SdxlUNet withFreeU(FreeU freeU) {
        return new SdxlUNet(TestEngine.folder(Golden.model().resolve("unet")), TestEngine.manager(),
                TestEngine.kernels(), TestEngine.dtype(), freeU);
    }

    private static Map<String, NDArray> stages(NDManager m, SdxlUNet unet, DenoisingInput input) {
        StageCapture capture = new StageCapture(m);
        GenerationContext ctx = GoldenModel.context(1);
        ctx.put(StageCapture.KEY, capture);
        unet.predictNoise(m, input, ctx);
        return capture.stages();
    }
}
