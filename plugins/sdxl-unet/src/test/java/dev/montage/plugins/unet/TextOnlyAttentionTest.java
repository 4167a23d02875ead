package dev.montage.plugins.unet;
import dev.montage.nn.Weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Text-only cross-attention is default attention on the first 77 context tokens. */
class TextOnlyAttentionTest {
    private static final String LAYER = "mid_block.attentions.0.transformer_blocks.1.attn";
    private static NDManager weights;
    private static Attention cross;
    private static Attention self;
    private static final TextOnlyAttention TEXT_ONLY = new TextOnlyAttention(77);

    @BeforeAll
    static void load() {
        weights = TestEngine.manager().newSubManager();
        Weights p = Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(), weights,
                TestEngine.kernels());
        cross = new Attention(p.prefixed(LAYER + "2"), LAYER + "2", 64, 4, 64, TestEngine.kernels());
        self = new Attention(p.prefixed(LAYER + "1"), LAYER + "1", 64, 4, 0, TestEngine.kernels());
    }

    @AfterAll
    static void close() {
        if (weights != null) {
            weights.close();
        }
    }

    @Test
    void onSeventySevenTokensItIsDefaultAttention() {
        Random random = new Random(1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = MultiSubjectAttentionTest.randomArray(m, random, 2, 16, 64);
            NDArray text = MultiSubjectAttentionTest.randomArray(m, random, 2, 77, 64);
            assertArrayEquals(DefaultAttention.attend(cross, hidden, text).toFloatArray(),
                    TEXT_ONLY.forward(cross, hidden, text, 4, 4, GoldenModel.context(1)).toFloatArray());
            assertArrayEquals(DefaultAttention.attend(self, hidden, null).toFloatArray(),
                    TEXT_ONLY.forward(self, hidden, null, 4, 4, GoldenModel.context(1)).toFloatArray());
        }
    }

    @Test
    void imageTokensAfterTheTextAreIgnored() {
        Random random = new Random(2);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = MultiSubjectAttentionTest.randomArray(m, random, 2, 16, 64);
            NDArray context = MultiSubjectAttentionTest.randomArray(m, random, 2, 77 + 12, 64);
            float[] textOnly = TEXT_ONLY.forward(cross, hidden, context, 4, 4, GoldenModel.context(1)).toFloatArray();
            assertArrayEquals(DefaultAttention.attend(cross, hidden, context.get(new NDIndex(":, :77")))
                    .toFloatArray(), textOnly);
            float[] full = DefaultAttention.attend(cross, hidden, context).toFloatArray();
            assertTrue(GoldenTensors.maxAbsDiff(full, textOnly) > 1e-3, "the image tokens would have mattered");
        }
    }

    @Test
    void needsAPositiveTokenCount() {
        assertThrows(IllegalArgumentException.class, () -> new TextOnlyAttention(0));
    }
}
