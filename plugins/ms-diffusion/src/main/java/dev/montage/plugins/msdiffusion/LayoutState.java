package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.AutoLayout;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.TextEncoder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What multi-subject attention keeps for one generation, in its {@link GenerationContext}: the box masks per grid
 * size (computed once, also uploaded once) and, with auto layout, each layer's running sum of phrase attention maps.
 * Valid for one {@link SubjectConditioning} instance; another one starts a new state.
 *
 * <p>The device arrays live in a sub-manager of the manager that owns the encoder context (the generation's in a
 * pipeline), so they end with the generation.
 */
final class LayoutState {
    private static final GenerationContext.Key<LayoutState> KEY = GenerationContext.Key.of("ms-diffusion.layout",
            LayoutState.class);
    /** {@code minmax_normalize}'s guard against flat maps. */
    private static final float NORMALIZE_EPS = 1e-5f;

    private final SubjectConditioning layout;
    private final Map<Long, LayoutMask> boxMasks = new HashMap<>();
    private final Map<Long, LayoutTensors> boxTensors = new HashMap<>();
    private final Map<String, PhraseMaps> phraseMaps = new HashMap<>();
    private NDManager manager;

    /** One layer's phrase attention maps so far: their float32 sum [B, subjects, L] and how many calls added one. */
    private static final class PhraseMaps {
        NDArray sum;
        int calls;
    }

    private LayoutState(SubjectConditioning layout) {
        this.layout = layout;
    }

    /** The state of the generation in {@code ctx} for {@code layout}, created on first use. */
    static LayoutState of(GenerationContext ctx, SubjectConditioning layout) {
        LayoutState state = ctx.get(KEY);
        if (state == null || state.layout != layout) {
            if (state != null) {
                state.release();
            }
            state = new LayoutState(layout);
            ctx.put(KEY, state);
        }
        return state;
    }

    /** The box masks of a grid size. */
    LayoutMask boxMask(int gridHeight, int gridWidth) {
        return boxMasks.computeIfAbsent(key(gridHeight, gridWidth),
                k -> LayoutMask.ofBoxes(boxesPerRow(), gridHeight, gridWidth));
    }

    /** The boxes of every batch row: the subjects' in the conditional rows, none in the unconditional ones. */
    private float[][][] boxesPerRow() {
        float[][][] boxes = new float[layout.rows()][layout.subjects()][];
        for (int b = 0; b < boxes.length; b++) {
            for (int j = 0; j < layout.subjects(); j++) {
                boxes[b][j] = layout.isUnconditional(b) ? new float[4] : layout.boxes().get(j).toArray();
            }
        }
        return boxes;
    }

    /** The box masks of a grid size on the device, uploaded on first use. */
    LayoutTensors boxTensors(int gridHeight, int gridWidth, NDManager owner, Kernels kernels, ComputeDType dtype) {
        long key = key(gridHeight, gridWidth);
        LayoutTensors t = boxTensors.get(key);
        if (t == null || !t.isAlive()) {
            t = LayoutTensors.of(boxMask(gridHeight, gridWidth), layout, manager(owner), kernels, dtype);
            boxTensors.put(key, t);
        }
        return t;
    }

    /**
     * Auto layout: adds this call's phrase attention maps of {@code layer} to its running sum and, from call
     * {@code startStep + 1} on (the official {@code start_step}, counting this call), derives the masks from the
     * mean map instead of the boxes: each map min-max normalised over the grid, a position belongs to subject
     * {@code j} where its map exceeds the threshold.
     *
     * @param textProbs float32 [B, heads, L, textTokens] text attention probabilities of this call
     * @param scope     receives the derived masks' arrays
     * @return the masks to use for this call
     */
    LayoutTensors autoLayout(String layer, NDArray textProbs, int gridHeight, int gridWidth, NDManager owner,
            NDManager scope, Kernels kernels, ComputeDType dtype) {
        AutoLayout auto = layout.autoLayout().orElseThrow();
        NDManager kept = manager(owner);
        NDArray maps = phraseMaps(textProbs);
        PhraseMaps history = phraseMaps.computeIfAbsent(layer, k -> new PhraseMaps());
        NDArray sum = history.sum == null ? maps : history.sum.add(maps);
        sum.attach(kept);
        if (history.sum != null) {
            history.sum.close();
        }
        history.sum = sum;
        history.calls++;
        if (history.calls <= auto.startStep()) {
            return boxTensors(gridHeight, gridWidth, owner, kernels, dtype);
        }
        NDArray mean = Scopes.borrow(sum, scope).div(history.calls);
        NDArray min = mean.min(new int[] {2}, true);
        NDArray max = mean.max(new int[] {2}, true);
        NDArray normalised = mean.sub(min).div(max.sub(min).add(NORMALIZE_EPS));
        boolean[] above = normalised.gt((float) auto.threshold()).toBooleanArray();
        int rows = (int) mean.getShape().get(0);
        int subjects = (int) mean.getShape().get(1);
        int positions = gridHeight * gridWidth;
        boolean[][][] inside = new boolean[rows][subjects][positions];
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < subjects; j++) {
                System.arraycopy(above, (b * subjects + j) * positions, inside[b][j], 0, positions);
            }
        }
        return LayoutTensors.of(LayoutMask.ofPositions(inside, gridHeight, gridWidth), layout, scope, kernels, dtype);
    }

    /**
     * Each subject's map: the attention to its phrase tokens, averaged over the phrase tokens and the heads, as
     * [B, subjects, L]. Unconditional rows (by position: the reference's phrase indexes are zero only there) and
     * phrases that were not found have zero maps, as the reference's all-zero phrase indexes give.
     */
    private NDArray phraseMaps(NDArray textProbs) {
        long[] s = textProbs.getShape().getShape();
        int rows = (int) s[0];
        int tokens = (int) s[3];
        int subjects = layout.subjects();
        List<TextEncoder.TokenSpan> spans = layout.phraseSpans();
        if (spans.size() != subjects) {
            throw new IllegalArgumentException("auto layout needs a phrase span per subject: " + subjects
                    + " subjects, " + spans.size() + " spans");
        }
        float[] weights = new float[rows * tokens * subjects];
        for (int b = 0; b < rows; b++) {
            if (layout.isUnconditional(b)) {
                continue;
            }
            for (int j = 0; j < subjects; j++) {
                TextEncoder.TokenSpan span = spans.get(j);
                int end = Math.min(span.end(), tokens);
                for (int t = span.start(); t < end; t++) {
                    weights[(b * tokens + t) * subjects + j] = 1f / (end - span.start());
                }
            }
        }
        NDArray w = textProbs.getManager().create(weights, new Shape(rows, 1, tokens, subjects));
        return textProbs.matMul(w).mean(new int[] {1}).transpose(0, 2, 1);
    }

    private NDManager manager(NDManager owner) {
        if (manager == null || !manager.isOpen()) {
            boxTensors.clear();
            phraseMaps.clear();
            manager = owner.newSubManager();
        }
        return manager;
    }

    private void release() {
        if (manager != null && manager.isOpen()) {
            manager.close();
        }
    }

    private static long key(int gridHeight, int gridWidth) {
        return ((long) gridHeight << 32) | gridWidth;
    }
}
