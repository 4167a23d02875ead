package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every resampler stage, the subject tokens and the image token sequence (dummy tokens ++ subject tokens) against
 * the official implementation's tensors, with the cases' tolerances.
 */
class MsDiffusionResamplerGoldenTest {
    private static FolderComponentContext context;
    private static MsDiffusionResampler resampler;
    private static GroundingResampler staged;

    @BeforeAll
    static void load() {
        Path config = Golden.model().resolve("resampler_config.json");
        context = TestContext.golden(TestEngine.engine(), config);
        resampler = (MsDiffusionResampler) new MsDiffusionResamplerFactory().create(context);
        staged = new GroundingResampler(new MsAdapterCheckpoint(context.checkpoint("ms_adapter")).imageProj(),
                ResamplerConfig.read(config), context.manager(), context.kernels(), context.dtype());
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "controlnet_text_only"})
    void everyStageMatches(String name) {
        try (GoldenCase c = GoldenCase.open(name); NDManager m = TestEngine.manager().newSubManager()) {
            int n = c.subjects();
            NDArray boxes = c.boxes(m);
            c.assertClose("resampler.boxes", boxes);
            Map<String, float[]> stages = new LinkedHashMap<>();
            staged.forward(m, c.imageEmbeds(m), c.phraseEmbeds(m), boxes, new boolean[n],
                    (stage, value) -> stages.put(stage, value.toFloatArray()));
            assertEquals(stageNames(staged.config().depth()), List.copyOf(stages.keySet()));
            stages.forEach((stage, values) -> c.assertClose("resampler." + stage, values));

            NDArray tokens = resampler.resample(m, c.imageEmbeds(m), c.phraseEmbeds(m), boxes, new boolean[n]);
            c.assertClose("resampler_out", tokens);
            NDArray sequence = resampler.dummyTokens(m)
                    .concat(tokens.reshape(1, (long) n * resampler.tokensPerSubject(), resampler.outputDim()), 1);
            c.assertClose("image_prompt_embeds", sequence);
        }
    }

    private static List<String> stageNames(int depth) {
        List<String> names = new ArrayList<>(List.of("fourier_embeds", "latent_proj_out", "latent_norm_out",
                "latents_in", "proj_in_out"));
        for (int i = 0; i < depth; i++) {
            names.add("layer" + i + "_out");
        }
        names.add("proj_out_out");
        return names;
    }
}
