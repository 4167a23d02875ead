package dev.montage.api;

/**
 * MS-Diffusion's auto layout: after {@code startStep} steps, each subject's box is replaced by a mask taken
 * from the text cross-attention maps of its phrase tokens (averaged over heads, tokens and the steps so far,
 * min-max normalised) thresholded at {@code threshold}.
 *
 * @param threshold mask threshold, in 0..1 exclusive
 * @param startStep the first step (0-based) that uses the derived masks, &ge; 0
 */
public record AutoLayout(double threshold, int startStep) {

    /**
     * @throws IllegalArgumentException naming the field
     */
    public AutoLayout {
        if (!(threshold > 0 && threshold < 1)) {
            throw new IllegalArgumentException("autoLayout.threshold must be in (0, 1), got " + threshold);
        }
        if (startStep < 0) {
            throw new IllegalArgumentException("autoLayout.startStep must be >= 0, got " + startStep);
        }
    }
}
