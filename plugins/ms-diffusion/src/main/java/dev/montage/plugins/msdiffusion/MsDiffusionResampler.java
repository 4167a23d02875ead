package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.SubjectResampler;

/**
 * MS-Diffusion's subject tokens: the grounding resampler of {@code ms_adapter.bin} plus its learned dummy
 * (background) tokens. All subjects of a call are resampled as one batch.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them.
 */
final class MsDiffusionResampler implements SubjectResampler, AutoCloseable {
    private final NDManager weightsManager;
    private final GroundingResampler resampler;
    private final NDArray dummyTokens;

    /**
     * @throws IllegalArgumentException naming the checkpoint, the tensor and the configuration when they do not
     *     fit together
     */
    MsDiffusionResampler(MsAdapterCheckpoint checkpoint, ResamplerConfig config, NDManager parent, Kernels kernels,
            ComputeDType dtype) {
        this.weightsManager = parent.newSubManager();
        try {
            this.resampler = new GroundingResampler(checkpoint.imageProj(), config, weightsManager, kernels, dtype);
            this.dummyTokens = checkpoint.dummyImageTokens(weightsManager, config.outputDim());
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
    }

    @Override
    public int tokensPerSubject() {
        return resampler.config().numQueries();
    }

    @Override
    public int outputDim() {
        return resampler.config().outputDim();
    }

    @Override
    public NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding) {
        return resampler.forward(manager, imageEmbeds, phraseEmbeds, boxes, dropGrounding,
                GroundingResampler.Stages.NONE);
    }

    @Override
    public NDArray dummyTokens(NDManager manager) {
        // a copy, so that the caller may close what it receives without touching the weights
        NDArray copy = dummyTokens.duplicate();
        copy.attach(manager);
        return copy;
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}
