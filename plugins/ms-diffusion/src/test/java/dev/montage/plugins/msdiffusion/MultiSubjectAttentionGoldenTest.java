package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.plugins.unet.StageCapture;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.TestEngine;
import org.junit.jupiter.api.AfterAll;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The UNet with MS-Diffusion's attention against the official implementation: the layout bias and background masks
 * exactly, the raw noise prediction of every step from the reference inputs, and the step-0 block outputs (with the
 * reference ControlNet's residuals in {@code controlnet_text_only}).
 */
class MultiSubjectAttentionGoldenTest {
    private static FolderComponentContext model;
    private static DenoisingModel unet;
    private static MultiSubjectAttention attention;

    @BeforeAll
    static void load() {
        model = TestContext.model(TestEngine.engine());
        unet = GoldenModel.unet(model);
        attention = GoldenModel.multiSubject();
        unet.useAttentionProcessors(name -> attention);
    }

    @AfterAll
    static void close() {
        if (attention != null) {
            attention.close();
        }
        if (model != null) {
            model.close();
        }
    }

    /** The case's {@code cak.boxes} as [row][subject][4], unconditional rows first. */
    static float[][][] boxes(GoldenCase c) {
        long[] shape = c.tensors.shape("cak.boxes");
        float[] flat = c.tensors.floats("cak.boxes");
        float[][][] out = new float[(int) shape[0]][(int) shape[1]][4];
        for (int b = 0; b < shape[0]; b++) {
            for (int j = 0; j < shape[1]; j++) {
                System.arraycopy(flat, (int) ((b * shape[1] + j) * 4), out[b][j], 0, 4);
            }
        }
        return out;
    }

    static TestLayout layout(GoldenCase c) {
        JsonNode subjectScales = c.json.get("subject_scales");
        assertEquals(true, subjectScales == null || subjectScales.isNull(), "cases without subject scales");
        return GoldenModel.layout(boxes(c), c.json.get("scale").asDouble(), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim"})
    void layoutMasksAreExact(String name) {
        try (GoldenCase c = GoldenCase.open(name)) {
            TestLayout layout = layout(c);
            SubjectConditioning subjects;
            try (NDManager m = TestEngine.manager().newSubManager()) {
                subjects = layout.split(m.zeros(new Shape(layout.boxes().length, 77 + layout.imageTokens(), 8)))
                        .subjects().orElseThrow();
            }
            for (int q : toInts(c.json.get("distinct_query_lengths"))) {
                int side = (int) Math.round(Math.sqrt(q));
                LayoutMask mask = MultiSubjectAttention.mask(GoldenModel.context(1), subjects, side, side);
                long[] biasShape = c.tensors.shape("ip_mask_bias.q" + q);
                int heads = (int) (biasShape[0] / layout.boxes().length);
                int k = layout.imageTokens();
                assertEquals(k, biasShape[2]);
                float[] bias = mask.bias(layout.dummyTokens(), layout.tokensPerSubject());
                float[] perHead = new float[(int) (biasShape[0] * q * k)];
                float[] background = new float[(int) biasShape[0] * q];
                for (int b = 0; b < layout.boxes().length; b++) {
                    for (int h = 0; h < heads; h++) {
                        int row = b * heads + h;
                        System.arraycopy(bias, b * q * k, perHead, row * q * k, q * k);
                        for (int l = 0; l < q; l++) {
                            background[row * q + l] = mask.isBackground(b, l) ? 1 : 0;
                        }
                    }
                }
                c.tensors.assertClose("ip_mask_bias.q" + q, perHead, 0);
                assertArrayEquals(c.tensors.floats("ip_background.q" + q), background);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim"})
    void everyStepsNoisePredictionMatches(String name) {
        try (GoldenCase c = GoldenCase.open(name); NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            TestLayout layout = layout(c);
            for (int i = 0; i < c.steps(); i++) {
                ctx.setStep(i, c.steps());
                ctx.put(StageCapture.KEY, i == 0 ? capture : null);
                NDArray eps = unet.predictNoise(m, c.unetInput(m, i, "uncond_embeds_full", "cond_embeds_full", layout), ctx);
                c.assertClose("step" + i + ".noise_pred", eps);
            }
            assertEquals(9, c.assertStepZeroStages(capture.stages()), "block-level stages in the fixture");
        }
    }

    /**
     * {@code controlnet_text_only} at step 0, with the reference ControlNet's residuals given to the UNet: the
     * down path and mid block before the residuals, everything after them, and the noise prediction.
     */
    @Test
    void controlNetResidualsEnterAsDiffusersAddsThem() {
        try (GoldenCase c = GoldenCase.open("controlnet_text_only"); NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            ctx.put(StageCapture.KEY, capture);
            DenoisingModel.DenoisingInput in = c.unetInput(m, 0, "uncond_embeds_full", "cond_embeds_full", layout(c));
            List<NDArray> down = new ArrayList<>();
            for (int j = 0; j < 6; j++) {
                down.add(c.array(m, "step0.controlnet.down." + j));
            }
            NDArray eps = unet.predictNoise(m, new DenoisingModel.DenoisingInput(in.latents(), in.timestep(),
                    in.context(), in.pooled(), in.timeIds(), new DenoisingModel.ControlResiduals(down,
                            c.array(m, "step0.controlnet.mid"))), ctx);
            c.assertClose("step0.noise_pred", eps);
            assertEquals(9, c.assertStepZeroStages(capture.stages()), "block-level stages in the fixture");
        }
    }

    private static int[] toInts(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
