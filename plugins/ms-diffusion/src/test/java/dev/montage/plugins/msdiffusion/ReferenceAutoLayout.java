package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.TextEncoder;
import java.util.ArrayList;
import java.util.List;

/**
 * MS-Diffusion's auto layout for one processor, written out as the official code computes it
 * ({@code get_text_attention_maps}, {@code get_psuedo_attention_mask}): every call appends the phrase maps (mean over
 * the phrase tokens, then over the heads; zero for rows whose phrase indexes are zero, i.e. the unconditional first
 * half of the batch, whatever the boxes);
 * once {@code len(maps) >= start_step} the mean of all maps, min-max normalised per map, is thresholded into the
 * masks. Test code only, on host arrays.
 */
final class ReferenceAutoLayout {
    private final List<float[][][]> maps = new ArrayList<>();

    /** One call of the processor. */
    NDArray forward(AttentionLayer layer, NDArray kIp, NDArray vIp, NDArray hidden, NDArray context, int gridHeight,
            int gridWidth, TestLayout layout) {
        int rows = layout.boxes().length;
        int heads = layer.heads();
        int positions = gridHeight * gridWidth;
        int tokens = layout.textTokens();
        int subjects = layout.subjects();
        float[] probs = ReferenceAttention.textProbabilities(layer, hidden, context, tokens).toFloatArray();
        float[][][] call = new float[rows][subjects][positions];
        for (int b = 0; b < rows; b++) {
            boolean unconditional = b < rows / 2;
            for (int j = 0; j < subjects && !unconditional; j++) {
                TextEncoder.TokenSpan span = layout.phraseSpans().get(j);
                for (int l = 0; l < positions; l++) {
                    double overHeads = 0;
                    for (int h = 0; h < heads; h++) {
                        double overTokens = 0;
                        for (int t = span.start(); t < span.end(); t++) {
                            overTokens += probs[(((b * heads + h) * positions) + l) * tokens + t];
                        }
                        overHeads += (float) (overTokens / (span.end() - span.start()));
                    }
                    call[b][j][l] = (float) (overHeads / heads);
                }
            }
        }
        maps.add(call);
        int startStep = layout.autoLayout().orElseThrow().startStep() + 1;
        if (maps.size() < startStep) {
            return ReferenceAttention.forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth, layout);
        }
        double threshold = layout.autoLayout().get().threshold();
        boolean[][][] inside = new boolean[rows][subjects][positions];
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < subjects; j++) {
                float[] mean = new float[positions];
                for (float[][][] m : maps) {
                    for (int l = 0; l < positions; l++) {
                        mean[l] += m[b][j][l];
                    }
                }
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                for (int l = 0; l < positions; l++) {
                    mean[l] /= maps.size();
                    min = Math.min(min, mean[l]);
                    max = Math.max(max, mean[l]);
                }
                for (int l = 0; l < positions; l++) {
                    inside[b][j][l] = (mean[l] - min) / (max - min + 1e-5f) > threshold;
                }
            }
        }
        return ReferenceAttention.forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth, layout, inside);
    }
}
