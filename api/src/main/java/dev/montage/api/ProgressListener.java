package dev.montage.api;

import java.awt.image.BufferedImage;
import java.time.Duration;

/**
 * Receives progress of one generation, on the generating thread. Implementations must be quick; they may
 * ask the generation to stop by returning {@code false} from {@link #onStep}.
 */
@FunctionalInterface
public interface ProgressListener {

    /** Ignores everything and never cancels. */
    ProgressListener NONE = (step, total, elapsed) -> true;

    /**
     * Called after each denoising step.
     *
     * @param step    steps done so far, 1..total
     * @param total   steps of this generation
     * @param elapsed time since the generation started
     * @return {@code true} to continue, {@code false} to cancel before the next step
     */
    boolean onStep(int step, int total, Duration elapsed);

    /**
     * Whether the generation should stop now: polled at bounded intervals inside every stage (tokenizing,
     * preprocessing, encoding, each step's network blocks, decoding; see {@link Cancellation}). Returning
     * {@code true} ends the generation with a {@link GenerationCancelledException} at the next poll.
     * Called on the generating thread; must be quick.
     */
    default boolean cancelRequested() {
        return false;
    }

    /** Called once, before the first step, with a short description of the stage that is starting. */
    default void onStage(String stage) {
    }

    /**
     * Called once per control, before the first step, with the conditioning image its ControlNet receives (after
     * the preprocessor, resized to the output size), e.g. to save it for inspection.
     *
     * @param index   the control's index in the request
     * @param control the control
     * @param image   RGB, the request's width x height
     */
    default void onControlImage(int index, Control control, BufferedImage image) {
    }

    /**
     * How often this listener wants a preview of the image being made: every that many steps, never after the last
     * one; 0 (the default) for none. Previews cost a small computation on the generating thread, so a listener asks
     * for them.
     */
    default int previewEvery() {
        return 0;
    }

    /**
     * Called every {@link #previewEvery()} steps, after {@link #onStep}, with a cheap approximation of the first
     * image at the latent resolution, when the pipeline's decoder can make one
     * ({@link dev.montage.api.spi.LatentDecoder#preview}).
     *
     * @param step  steps done so far
     * @param total steps of this generation
     * @param preview RGB, the latents' width x height (the output size over the decoder's scale factor)
     */
    default void onPreview(int step, int total, BufferedImage preview) {
    }
}
