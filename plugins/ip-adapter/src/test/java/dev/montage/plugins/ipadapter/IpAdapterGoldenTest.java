package dev.montage.plugins.ipadapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Box;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.plugins.unet.SdxlUNetFactory;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code ip_adapter_euler} against the official IP-Adapter: the image tokens of the picture and of the unconditional
 * input from its image embedding, and the tiny UNet's noise prediction of every step with the decoupled attention in
 * its cross-attention layers, from the official {@code .bin} and from the flattened {@code .safetensors}.
 */
class IpAdapterGoldenTest {
    private static final String CASE = "ip_adapter_euler";
    private static final int TEXT_TOKENS = 77;

    /** The golden model with the given IP-Adapter checkpoint. */
    static FolderComponentContext context(String file) {
        return new FolderComponentContext(TestEngine.engine(), ModelPaths.of(Golden.model())
                .withDefaults(ComponentRegistry.fromClasspath(IpAdapterGoldenTest.class.getClassLoader()).modelFiles()
                        .values())
                .with(IpAdapterCheckpoint.KEY, checkpoint(file)), Map.of());
    }

    static Path checkpoint(String file) {
        return Golden.dir().resolve("ip-adapter").resolve(file);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ip-adapter_tiny.bin", "ip-adapter_tiny.safetensors"})
    void imageTokensOfThePictureAndOfTheUnconditionalInput(String file) throws Exception {
        try (FolderComponentContext context = context(file); GoldenTensors golden = GoldenTensors.open(CASE);
                NDManager m = TestEngine.manager().newSubManager()) {
            SubjectResampler projection = new IpAdapterProjectionFactory().create(context);
            NDArray embeds = golden.array(m, "clip_image_embeds");
            golden.assertClose("image_prompt_embeds", projection.resample(m, embeds, null, null, null),
                    golden.tolerance("image_prompt_embeds"));
            assertEquals(SubjectResampler.Unconditional.ZERO_FEATURES, projection.unconditional());
            golden.assertClose("uncond_image_prompt_embeds", projection.resample(m, m.zeros(embeds.getShape()), null,
                    null, null), golden.tolerance("uncond_image_prompt_embeds"));
            assertArrayEquals(new long[] {1, 0, 64}, projection.dummyTokens(m).getShape().getShape());
            ((AutoCloseable) projection).close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ip-adapter_tiny.bin", "ip-adapter_tiny.safetensors"})
    void everyStepsNoisePredictionMatches(String file) throws Exception {
        try (FolderComponentContext context = context(file); GoldenTensors golden = GoldenTensors.open(CASE);
                NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingModel unet = new SdxlUNetFactory().create(context);
            AttentionProcessor ip = new IpAdapterAttentionFactory().create(context.forAttentionProcessor(
                    "attention processor 'ip-adapter'", Map.of(), unet.attentionLayers()));
            unet.useAttentionProcessors(name -> ip);
            NDArray full = golden.array(m, "uncond_embeds_full").concat(golden.array(m, "cond_embeds_full"), 0);
            long tokens = full.getShape().get(1);
            NDArray text = full.get(":, :{}, :", TEXT_TOKENS);
            NDArray image = full.get(":, {}:, :", TEXT_TOKENS);
            assertEquals(4, tokens - TEXT_TOKENS);
            EncoderContext encoder = new EncoderContext(text, Optional.of(new SubjectConditioning(image, 1, 0, 4,
                    List.of(Box.NONE), 0.7, Optional.empty(), List.of(), -1, Optional.empty())));
            int steps = 5;
            GenerationContext ctx = new GenerationContext(GenerationRequest.builder("test").steps(steps).build());
            for (int i = 0; i < steps; i++) {
                ctx.setStep(i, steps);
                NDArray eps = unet.predictNoise(m, new DenoisingModel.DenoisingInput(
                        golden.array(m, "step" + i + ".latent_model_input"),
                        golden.floats("step" + i + ".timestep")[0], encoder, golden.array(m, "add_text_embeds"),
                        golden.array(m, "add_time_ids"), null), ctx);
                golden.assertClose("step" + i + ".noise_pred", eps, golden.tolerance("step" + i + ".noise_pred"));
            }
            assertEquals(new Shape(2, 4, 8, 8), golden.array(m, "step0.noise_pred").getShape());
            ((AutoCloseable) ip).close();
            ((AutoCloseable) unet).close();
        }
    }
}
