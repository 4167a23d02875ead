package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.TextEncoder;
import dev.montage.nn.DefaultAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A subject layout as the tests and the reference implementations describe it: one concatenated context
 * {@code [text | dummy | subjects]} per batch row, boxes per row. {@link #split} hands it to the attention
 * processors as the typed {@link EncoderContext} a pipeline builds.
 *
 * @param boxes per batch row, per subject; the conditional rows must share their boxes
 */
record TestLayout(int textTokens, int dummyTokens, int tokensPerSubject, float[][][] boxes, int unconditionalRows,
        double scale, Optional<double[]> subjectScales, List<TextEncoder.TokenSpan> phraseSpans, int eotIndex,
        Optional<AutoLayout> autoLayout) {

    int subjects() {
        return boxes.length == 0 ? 0 : boxes[0].length;
    }

    int imageTokens() {
        return dummyTokens + subjects() * tokensPerSubject;
    }

    boolean isUnconditional(int row) {
        return row < unconditionalRows;
    }

    /** The same context with every array mapped, e.g. cast to another dtype. */
    static EncoderContext map(EncoderContext context, UnaryOperator<NDArray> f) {
        return new EncoderContext(f.apply(context.text()), context.subjects().map(s -> new SubjectConditioning(
                f.apply(s.tokens()), s.unconditionalRows(), s.dummyTokens(), s.tokensPerSubject(), s.boxes(),
                s.scale(), s.subjectScales(), s.phraseSpans(), s.eotIndex(), s.autoLayout())));
    }

    /** Text and subject tokens as one concatenated context, as the reference implementations take it. */
    static NDArray joined(EncoderContext context) {
        return context.subjects().map(s -> context.text().concat(s.tokens(), 1)).orElse(context.text());
    }

    /** Plain cross-attention of {@code hidden} over {@code text}. */
    static NDArray textAttention(AttentionLayer layer, NDArray hidden, NDArray text) {
        return DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(text), 1, 1,
                GoldenModel.context(1));
    }

    /** The text and subject parts of a concatenated context [B, text + image tokens, D], as contiguous arrays. */
    EncoderContext split(NDArray context) {
        NDArray text = context.get(new NDIndex(":, :{}", textTokens)).duplicate();
        NDArray tokens = context.get(new NDIndex(":, {}:", textTokens)).duplicate();
        List<Box> subjectBoxes = new ArrayList<>();
        for (float[] b : boxes[unconditionalRows]) {
            subjectBoxes.add(new Box(b[0], b[1], b[2], b[3]));
        }
        return new EncoderContext(text, Optional.of(new SubjectConditioning(tokens, unconditionalRows, dummyTokens,
                tokensPerSubject, subjectBoxes, scale, subjectScales, phraseSpans, eotIndex, autoLayout)));
    }
}
