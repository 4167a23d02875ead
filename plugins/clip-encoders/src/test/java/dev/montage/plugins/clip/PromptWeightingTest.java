package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A1111 emphasis on the golden model's encoders: the weighted hidden states against A1111's "Original" formula
 * computed here in float64 from the unweighted ones, per tower; everything else as without weighting.
 */
class PromptWeightingTest {
    private static SdxlTextEncoder plain;
    private static SdxlTextEncoder weighted;

    @BeforeAll
    static void load() {
        plain = SdxlTextEncoderGoldenTest.golden(PromptWeighting.NONE);
        weighted = SdxlTextEncoderGoldenTest.golden(PromptWeighting.A1111);
    }

    @AfterAll
    static void close() {
        for (SdxlTextEncoder e : new SdxlTextEncoder[] {plain, weighted}) {
            if (e != null) {
                e.close();
            }
        }
    }

    @Test
    void aPromptWithoutEmphasisEncodesAsWithoutWeighting() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            String prompt = "a photo of a dog on the beach, sunny";
            TextEncoder.PromptEmbeddings a = plain.encode(m, List.of(prompt));
            TextEncoder.PromptEmbeddings b = weighted.encode(m, List.of(prompt));
            assertArrayEquals(a.tokens().toFloatArray(), b.tokens().toFloatArray());
            assertArrayEquals(a.pooled().toFloatArray(), b.pooled().toFloatArray());
        }
    }

    @Test
    void emphasisWeighsEachTowersTokensAndKeepsTheirMean() throws IOException {
        String text = "a cat on a mat";
        String emphasised = "a (cat:1.5) on [a mat]";
        int[] plainIds = plain.tokenize(List.of(text))[0][0];
        ClipTokenizer.WeightedIds ids = ClipTokenizer.load(Golden.model().resolve("tokenizer"))
                .encode(PromptAttention.parse(emphasised));
        assertArrayEquals(plainIds, ids.ids(), "the fragments' tokens are the plain text's");
        float[] expectedWeights = new float[plainIds.length];
        Arrays.fill(expectedWeights, 1f);
        expectedWeights[2] = 1.5f;
        expectedWeights[4] = (float) (1 / 1.1);
        expectedWeights[5] = (float) (1 / 1.1);
        assertArrayEquals(expectedWeights, ids.weights(), "BOS, a, cat, on, a, mat, EOS, padding");
        try (NDManager m = TestEngine.manager().newSubManager()) {
            TextEncoder.PromptEmbeddings base = plain.encode(m, List.of(text));
            TextEncoder.PromptEmbeddings out = weighted.encode(m, List.of(emphasised));
            assertArrayEquals(base.pooled().toFloatArray(), out.pooled().toFloatArray(), "the pooled output is "
                    + "the unweighted one");
            long[] shape = base.tokens().getShape().getShape();
            int tokens = (int) shape[1];
            int width = (int) shape[2];
            int first = (int) weighted.encodePhrases(m, List.of("x")).getShape().get(1);
            float[] z = base.tokens().toFloatArray();
            float[] expected = z.clone();
            for (int[] tower : new int[][] {{0, first}, {first, width}}) {
                double before = 0;
                double after = 0;
                for (int t = 0; t < tokens; t++) {
                    for (int c = tower[0]; c < tower[1]; c++) {
                        before += z[t * width + c];
                        after += z[t * width + c] * expectedWeights[t];
                    }
                }
                double ratio = before / after;
                for (int t = 0; t < tokens; t++) {
                    for (int c = tower[0]; c < tower[1]; c++) {
                        expected[t * width + c] = (float) (z[t * width + c] * expectedWeights[t] * ratio);
                    }
                }
            }
            float[] actual = out.tokens().toFloatArray();
            double error = 0;
            for (int i = 0; i < actual.length; i++) {
                error = Math.max(error, Math.abs(actual[i] - expected[i]));
            }
            System.out.printf("A1111 emphasis vs its formula in float64: max-abs error %.3g%n", error);
            assertTrue(error < 1e-5, "max-abs error " + error);
            assertFalse(Arrays.equals(z, actual), "the weights change the tokens");
        }
    }

    /** In bf16 the weighting runs in float32 between the towers' bf16 states and stays near the float32 result. */
    @Test
    void weighsInBf16() {
        String prompt = "a (cat:1.5) on [a mat]";
        Path m = Golden.model();
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
                LocalModelFolder tokenizer1 = folder(m, "tokenizer", engine);
                LocalModelFolder tokenizer2 = folder(m, "tokenizer_2", engine);
                LocalModelFolder tower1 = folder(m, "text_encoder", engine);
                LocalModelFolder tower2 = folder(m, "text_encoder_2", engine);
                SdxlTextEncoder bf16 = new SdxlTextEncoder(tokenizer1, tokenizer2, tower1, tower2, true,
                        engine.manager(), engine.kernels(), engine.computeDType(), PromptWeighting.A1111,
                        TextualInversions.NONE);
                NDManager scope = engine.manager().newSubManager();
                NDManager reference = TestEngine.manager().newSubManager()) {
            NDArray tokens = bf16.encode(scope, List.of(prompt)).tokens();
            assertEquals(ComputeDType.BFLOAT16, engine.kernels().dtypeOf(tokens));
            float[] actual = engine.kernels().cast(tokens, ComputeDType.FLOAT32).toFloatArray();
            float[] expected = weighted.encode(reference, List.of(prompt)).tokens().toFloatArray();
            double error = 0;
            double scale = 0;
            for (int i = 0; i < expected.length; i++) {
                error = Math.max(error, Math.abs(actual[i] - expected[i]));
                scale = Math.max(scale, Math.abs(expected[i]));
            }
            System.out.printf("A1111 emphasis in bf16 vs float32: max-abs error %.3g (|x| up to %.3g)%n", error,
                    scale);
            assertTrue(error < 0.03 * scale, "max-abs error " + error);
        }
    }

    private static LocalModelFolder folder(Path model, String name, MontageEngine engine) {
        return new LocalModelFolder(model.resolve(name), Optional.empty(), engine.device(), engine.computeDType(),
                engine.kernels());
    }

    @Test
    void phrasesAreFoundInTheTextWithoutItsSyntax() {
        assertEquals(plain.locatePhrases("a cat on a mat", List.of("cat", "mat")),
                weighted.locatePhrases("a ((cat)) on [a mat]", List.of("cat", "mat")));
        assertEquals(plain.endOfTextIndex("a cat on a mat"), weighted.endOfTextIndex("(a cat:1.2) on a mat"));
    }

    /** The factory's request check refuses what the encoder would, before the encoder is loaded. */
    @Test
    void theFactoryChecksARequestsPromptsWhenItsEncoderWeighsThem() {
        GenerationRequest request = GenerationRequest.builder("a castle BREAK a moat").negativePrompt("[a|b]").build();
        SdxlTextEncoderFactory factory = new SdxlTextEncoderFactory();
        assertEquals(List.of("prompt", "negativePrompt"), factory.problems(request, Options.of("options.text_encoder",
                Map.of("prompt_weighting", "a1111"))).stream().map(FieldError::field).toList());
        assertEquals(List.of(), factory.problems(request, Options.of("options.text_encoder", Map.of())));
        assertEquals(List.of(), factory.problems(GenerationRequest.builder("a (castle:1.2)").build(),
                Options.of("options.text_encoder", Map.of("prompt_weighting", "a1111"))));
    }

    @Test
    void aRefusedPromptNamesItsField() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            InvalidRequestException prompt = assertThrows(InvalidRequestException.class,
                    () -> weighted.encode(m, List.of("a castle BREAK a moat")));
            assertEquals("prompt", prompt.errors().get(0).field());
            InvalidRequestException negative = assertThrows(InvalidRequestException.class,
                    () -> weighted.encodeNegative(m, List.of("[blurry:sharp:0.5]")));
            FieldError error = negative.errors().get(0);
            assertEquals("negativePrompt", error.field());
            assertTrue(error.message().contains("prompt editing"), error.message());
            plain.encode(m, List.of("a castle BREAK a moat")).close();
        }
    }
}
