package dev.montage.plugins.msdiffusion;

/**
 * Where each subject may act on one latent grid: MS-Diffusion's box masks (its {@code prepare_attention_mask_qk}),
 * on a rectangular {@code gridHeight x gridWidth} grid with positions in row-major order. Box {@code j} covers
 * columns {@code floor(x0 w) .. ceil(x1 w) - 1} and rows {@code floor(y0 h) .. ceil(y1 h) - 1}, products taken in
 * float32 as the reference does; a position no box covers is <em>background</em>. An all-zero box covers nothing.
 */
final class LayoutMask {
    /** The reference's additive mask value (not -inf: masked probabilities stay tiny but defined). */
    static final float MASKED = -10000f;

    private final int gridHeight;
    private final int gridWidth;
    /** [row][subject][position]. */
    private final boolean[][][] inside;
    /** [row][position]. */
    private final boolean[][] background;

    private LayoutMask(int gridHeight, int gridWidth, boolean[][][] inside) {
        this.gridHeight = gridHeight;
        this.gridWidth = gridWidth;
        this.inside = inside;
        int positions = gridHeight * gridWidth;
        this.background = new boolean[inside.length][positions];
        for (int b = 0; b < inside.length; b++) {
            for (int l = 0; l < positions; l++) {
                boolean covered = false;
                for (boolean[] subject : inside[b]) {
                    covered |= subject[l];
                }
                background[b][l] = !covered;
            }
        }
    }

    /**
     * @param boxes [row][subject] {@code {x0, y0, x1, y1}} in 0..1; an unconditional row's are all zero
     */
    static LayoutMask ofBoxes(float[][][] boxes, int gridHeight, int gridWidth) {
        boolean[][][] inside = new boolean[boxes.length][][];
        for (int b = 0; b < boxes.length; b++) {
            inside[b] = new boolean[boxes[b].length][gridHeight * gridWidth];
            for (int j = 0; j < boxes[b].length; j++) {
                float[] box = boxes[b][j];
                int c0 = (int) Math.floor(box[0] * gridWidth);
                int r0 = (int) Math.floor(box[1] * gridHeight);
                int c1 = (int) Math.ceil(box[2] * gridWidth);
                int r1 = (int) Math.ceil(box[3] * gridHeight);
                for (int r = Math.max(r0, 0); r < Math.min(r1, gridHeight); r++) {
                    for (int c = Math.max(c0, 0); c < Math.min(c1, gridWidth); c++) {
                        inside[b][j][r * gridWidth + c] = true;
                    }
                }
            }
        }
        return new LayoutMask(gridHeight, gridWidth, inside);
    }

    /**
     * Masks given position by position, e.g. thresholded attention maps.
     *
     * @param inside [row][subject][position] of a {@code gridHeight x gridWidth} grid
     */
    static LayoutMask ofPositions(boolean[][][] inside, int gridHeight, int gridWidth) {
        return new LayoutMask(gridHeight, gridWidth, inside);
    }

    int positions() {
        return gridHeight * gridWidth;
    }

    int rows() {
        return inside.length;
    }

    /** Whether no subject covers {@code position} in batch row {@code row}. */
    boolean isBackground(int row, int position) {
        return background[row][position];
    }

    /** Whether subject {@code subject} covers {@code position} in batch row {@code row}. */
    boolean covers(int row, int subject, int position) {
        return inside[row][subject][position];
    }

    /**
     * The additive bias of the image attention, [rows, positions, dummy + subjects * tokens] row-major: 0 where a
     * position may attend to a token, {@link #MASKED} elsewhere. Background positions attend to the dummy tokens
     * only; a position inside box {@code j} attends to subject {@code j}'s tokens (and never to the dummies).
     */
    float[] bias(int dummyTokens, int tokensPerSubject) {
        int subjects = inside.length == 0 ? 0 : inside[0].length;
        int k = dummyTokens + subjects * tokensPerSubject;
        int positions = positions();
        float[] out = new float[inside.length * positions * k];
        for (int b = 0; b < inside.length; b++) {
            for (int l = 0; l < positions; l++) {
                int base = (b * positions + l) * k;
                float dummy = background[b][l] ? 0 : MASKED;
                for (int t = 0; t < dummyTokens; t++) {
                    out[base + t] = dummy;
                }
                for (int j = 0; j < subjects; j++) {
                    float v = inside[b][j][l] ? 0 : MASKED;
                    for (int t = 0; t < tokensPerSubject; t++) {
                        out[base + dummyTokens + j * tokensPerSubject + t] = v;
                    }
                }
            }
        }
        return out;
    }
}
