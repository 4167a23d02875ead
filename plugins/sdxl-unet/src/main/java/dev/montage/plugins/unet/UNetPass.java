package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.EncoderContext;

/**
 * What every block of one UNet call shares: the activated time embedding, the encoder context and the
 * generation context.
 *
 * @param activatedTemb {@code silu(temb)}, which every resnet projects (computed once per call)
 * @param context       what the cross-attention layers attend to, as the caller passed it
 * @param ctx           the generation's state
 * @param recorder      receives stage outputs ({@link StageRecorder#NONE} outside tests)
 */
record UNetPass(NDArray activatedTemb, EncoderContext context, GenerationContext ctx, StageRecorder recorder) {

    /** Hands a stage output to the recorder. */
    void record(String name, NDArray value) {
        recorder.record(name, value);
    }

    /** {@link #record}s a stage output and returns it. */
    NDArray recorded(String name, NDArray value) {
        recorder.record(name, value);
        return value;
    }
}
