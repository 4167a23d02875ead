package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ControlNet against diffusers' stage outputs of {@code controlnet_text_only} (text-only context): every
 * {@code step0.controlnet.*} tensor of the fixture, the residuals included, with the case's tolerances.
 */
class SdxlControlNetGoldenTest {
    private static final String CASE = "controlnet_text_only";
    private static final String STAGE_PREFIX = "step0.controlnet.";
    private static SdxlControlNet controlNet;

    @BeforeAll
    static void load() {
        controlNet = GoldenModel.controlNet("canny");
    }

    @AfterAll
    static void close() {
        if (controlNet != null) {
            controlNet.close();
        }
    }

    @Test
    void everyStepZeroStageAndResidualMatches() {
        try (GoldenCase c = GoldenCase.open(CASE); NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            ctx.put(SdxlControlNet.STAGES, capture);
            // the pipeline's text-only context: the first 77 tokens of what the UNet receives
            DenoisingInput full = c.unetInput(m, 0, "uncond_embeds_full", "cond_embeds_full");
            assertEquals(85, full.context().text().getShape().get(1));
            DenoisingInput input = new DenoisingInput(full.latents(), full.timestep(),
                    EncoderContext.text(full.context().text().get(new NDIndex(":, :77"))), full.pooled(), full.timeIds(), null);
            float scale = (float) c.json.get("controlnet_conditioning_scale").asDouble();
            ControlResiduals residuals = controlNet.residuals(m, input, c.array(m, "controlnet.cond_image"), scale,
                    ctx);

            List<String> names = c.tensors.toleranceNames().stream().filter(n -> n.startsWith(STAGE_PREFIX)).toList();
            for (String n : names) {
                NDArray actual = capture.stages().get(n.substring(STAGE_PREFIX.length()));
                assertNotNull(actual, () -> "the ControlNet recorded no stage " + n);
                c.assertClose(n, actual);
            }
            assertEquals(15, names.size(), "stages in the fixture");
            assertEquals(6, residuals.down().size());
            for (int j = 0; j < 6; j++) {
                c.assertClose(STAGE_PREFIX + "down." + j, residuals.down().get(j));
            }
            c.assertClose(STAGE_PREFIX + "mid", residuals.mid());
        }
    }

    @Test
    void theGoldenFolderIsTheTinyUNetsEncoder() {
        ControlNetConfig config = controlNet.config();
        assertEquals(List.of(16, 32, 32, 32), config.embeddingChannels());
        assertEquals(8, config.imageToLatentFactor());
        UNetConfig unet = GoldenModel.unetConfig();
        assertEquals(unet.blockOutChannels(), config.encoder().blockOutChannels());
        assertEquals(unet.downTransformerLayers(), config.encoder().downTransformerLayers());
        assertEquals(List.of(), config.encoder().upBlockTypes());
        assertEquals(Golden.model().resolve("controlnet"), GoldenModel.controlNetFolder().path());
    }
}
