package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The plain SDXL UNet (default attention everywhere) against diffusers' stage outputs of {@code plain_sdxl_euler}:
 * every {@code step0.unet.*} tensor of the fixture and the raw noise prediction of every step, with the case's
 * tolerances.
 */
class SdxlUNetGoldenTest {
    private static final String CASE = "plain_sdxl_euler";
    private static final String STAGE_PREFIX = "step0.unet.";
    private static SdxlUNet unet;

    @BeforeAll
    static void load() {
        unet = new SdxlUNet(TestEngine.folder(Golden.model().resolve("unet")), TestEngine.manager(),
                TestEngine.kernels(), TestEngine.dtype());
    }

    @AfterAll
    static void close() {
        if (unet != null) {
            unet.close();
        }
    }

    static GenerationContext context(int steps) {
        return new GenerationContext(GenerationRequest.builder("test").steps(steps).build());
    }

    @Test
    void everyStepZeroStageMatches() {
        try (GoldenCase c = GoldenCase.open(CASE); NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = context(c.steps());
            ctx.put(StageCapture.KEY, capture);
            NDArray eps = unet.predictNoise(m,
                    c.unetInput(m, 0, "negative_prompt_embeds", "prompt_embeds"), ctx);
            Map<String, NDArray> stages = capture.stages();
            List<String> expected = c.tensorNames().stream().filter(n -> n.startsWith(STAGE_PREFIX)).toList();
            assertEquals(43, expected.size(), "stages in the fixture");
            for (String name : expected) {
                NDArray actual = stages.get(name.substring(STAGE_PREFIX.length()));
                assertNotNull(actual, () -> "the UNet recorded no stage " + name);
                c.assertClose(name, actual);
            }
            c.assertClose("step0.noise_pred", eps);
        }
    }

    @Test
    void everyStepsNoisePredictionMatches() {
        try (GoldenCase c = GoldenCase.open(CASE); NDManager m = TestEngine.manager().newSubManager()) {
            GenerationContext ctx = context(c.steps());
            for (int i = 0; i < c.steps(); i++) {
                ctx.setStep(i, c.steps());
                NDArray eps = unet.predictNoise(m, c.unetInput(m, i, "negative_prompt_embeds", "prompt_embeds"), ctx);
                c.assertClose("step" + i + ".noise_pred", eps);
            }
        }
    }
}
