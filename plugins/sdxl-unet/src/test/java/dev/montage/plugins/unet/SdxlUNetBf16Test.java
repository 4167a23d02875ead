package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The plain UNet on a bfloat16 engine (weights and activations in bf16, sinusoids in float32) against diffusers'
 * float32 noise prediction of {@code plain_sdxl_euler}. bf16 keeps 8 significant bits, so the tolerance is loose; the
 * measured error is printed.
 */
class SdxlUNetBf16Test {
    private static final double ATOL = 0.1;

    @Test
    void bf16NoisePredictionStaysCloseToTheFloat32Reference() throws Exception {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
                FolderComponentContext context = TestContext.golden(engine, Map.of());
                GoldenCase c = GoldenCase.open("plain_sdxl_euler");
                NDManager m = engine.manager().newSubManager()) {
            Kernels kernels = engine.kernels();
            DenoisingModel unet = new SdxlUNetFactory().create(context);
            DenoisingInput f32 = c.unetInput(m, 0, "negative_prompt_embeds", "prompt_embeds");
            NDArray eps = unet.predictNoise(m, new DenoisingInput(kernels.cast(f32.latents(), ComputeDType.BFLOAT16),
                    f32.timestep(), EncoderContext.text(kernels.cast(f32.context().text(), ComputeDType.BFLOAT16)),
                    kernels.cast(f32.pooled(), ComputeDType.BFLOAT16),
                    kernels.cast(f32.timeIds(), ComputeDType.BFLOAT16), null), GoldenModel.context(c.steps()));
            assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(eps));
            c.tensors.assertClose("step0.noise_pred", eps, ATOL);
            ((AutoCloseable) unet).close();
        }
    }
}
