package dev.montage.runtime.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import java.util.List;
import java.util.function.Function;

/** A denoiser that hands every call to another, for tests that watch or change some of them. */
public interface ForwardingDenoisingModel extends DenoisingModel {

    /** The denoiser the calls go to. */
    DenoisingModel delegate();

    @Override
    default int latentChannels() {
        return delegate().latentChannels();
    }

    @Override
    default int crossAttentionDim() {
        return delegate().crossAttentionDim();
    }

    @Override
    default List<AttentionLayerSpec> attentionLayers() {
        return delegate().attentionLayers();
    }

    @Override
    default void useAttentionProcessors(Function<String, AttentionProcessor> chooser) {
        delegate().useAttentionProcessors(chooser);
    }

    @Override
    default void prepare(EncoderContext context, GenerationContext ctx) {
        delegate().prepare(context, ctx);
    }

    @Override
    default NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
        return delegate().predictNoise(manager, input, ctx);
    }
}
