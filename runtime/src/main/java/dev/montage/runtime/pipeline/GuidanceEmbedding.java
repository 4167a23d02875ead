package dev.montage.runtime.pipeline;

/**
 * The guidance scale as a guidance-distilled denoiser takes it: diffusers' {@code get_guidance_scale_embedding} of
 * w = scale − 1, the sinusoids {@code [sin(1000 w f_j), cos(1000 w f_j)]} with f_j = e^(−j ln 10000 / (D/2 − 1)),
 * in float32 as torch computes them (a zero appended for an odd width).
 */
final class GuidanceEmbedding {
    private GuidanceEmbedding() {
    }

    /**
     * @param guidanceScale the request's guidance scale
     * @param width         the embedding width D, at least 4
     * @param rows          batch rows, each the same embedding
     * @return [rows, D] row-major
     */
    static float[] of(double guidanceScale, int width, int rows) {
        if (width < 4) {
            throw new IllegalArgumentException("a guidance embedding is at least 4 wide, got " + width);
        }
        float w = (float) (guidanceScale - 1) * 1000f;
        int half = width / 2;
        float step = (float) Math.log(10000.0) / (half - 1);
        float[] row = new float[width];
        for (int j = 0; j < half; j++) {
            float angle = w * (float) Math.exp((float) j * -step);
            row[j] = (float) Math.sin(angle);
            row[half + j] = (float) Math.cos(angle);
        }
        float[] out = new float[rows * width];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(row, 0, out, b * width, width);
        }
        return out;
    }
}
