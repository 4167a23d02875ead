package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
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

    @Test
    void phrasesAreFoundInTheTextWithoutItsSyntax() {
        assertEquals(plain.locatePhrases("a cat on a mat", List.of("cat", "mat")),
                weighted.locatePhrases("a ((cat)) on [a mat]", List.of("cat", "mat")));
        assertEquals(plain.endOfTextIndex("a cat on a mat"), weighted.endOfTextIndex("(a cat:1.2) on a mat"));
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
