package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;

/**
 * What DDIM-type schedulers do to the x₀ estimate before using it: diffusers' {@code clip_sample} to
 * ±{@code clip_sample_range}; dynamic {@code thresholding} is refused.
 *
 * @param enabled whether the estimate is clipped
 * @param range   the bound it is clipped to
 */
record SampleClipping(boolean enabled, float range) {

    /**
     * The clipping the settings ask for.
     *
     * @param enabledByDefault diffusers' default of {@code clip_sample} for the scheduler
     * @throws IllegalArgumentException naming {@code thresholding} when it is set
     */
    static SampleClipping of(SchedulerSettings settings, boolean enabledByDefault) {
        settings.refuseThresholding();
        return withoutThresholding(settings, enabledByDefault);
    }

    /** The clipping of a scheduler that has no {@code thresholding} setting (Heun), which it leaves unread. */
    static SampleClipping withoutThresholding(SchedulerSettings settings, boolean enabledByDefault) {
        return new SampleClipping(settings.flag("clip_sample", enabledByDefault),
                (float) settings.number("clip_sample_range", 1.0));
    }

    /** The estimate, clipped where enabled. */
    NDArray apply(NDArray original) {
        return enabled ? original.clip(-range, range) : original;
    }
}
