package dev.montage.plugins.msdiffusion;

import dev.montage.api.AutoLayout;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.TextEncoder;
import dev.montage.plugins.unet.SdxlUNetFactory;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The tiny golden model as MS-Diffusion meets it: the SDXL UNet loaded by its own plugin, whose attention layers the
 * adapter binds to, and the {@code ms_adapter.bin} checkpoint.
 */
final class GoldenModel {
    private GoldenModel() {
    }

    /** The tiny UNet with default attention everywhere, loaded through {@code context} (closing it frees the UNet). */
    static DenoisingModel unet(FolderComponentContext context) {
        return new SdxlUNetFactory().create(context);
    }

    /** The tiny UNet's attention layers, in its processors' order. */
    static List<AttentionLayerSpec> unetLayers() {
        return new SdxlUNetFactory().attentionLayers(Map.of(SdxlUNetFactory.MODEL_KEY,
                TestEngine.folder(Golden.model().resolve(SdxlUNetFactory.MODEL_KEY)).config()));
    }

    /** {@code ms_adapter.bin}; the caller closes it after binding. */
    static TorchCheckpointSource adapterCheckpoint() {
        try {
            return TorchCheckpointSource.open(Golden.model().resolve("ms_adapter.bin"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code ms_adapter} dictionary of a checkpoint, on the test engine. */
    static ModelWeights adapterWeights(TorchCheckpointSource source) {
        MontageEngine e = TestEngine.engine();
        return new CheckpointWeights(source, e.device(), e.computeDType(), e.kernels()).prefixed("ms_adapter");
    }

    /** The golden adapter bound to the tiny UNet's layers. */
    static MultiSubjectAttention multiSubject() {
        try (TorchCheckpointSource source = adapterCheckpoint()) {
            return MultiSubjectAttention.bind(adapterWeights(source), unetLayers(), TestEngine.manager());
        }
    }

    /** A generation context for {@code steps} steps. */
    static GenerationContext context(int steps) {
        return new GenerationContext(GenerationRequest.builder("test").steps(steps).build());
    }

    /**
     * MS-Diffusion's layout of the tiny model: 77 text tokens, 4 dummy tokens, 4 tokens per subject; the batch rows
     * are [unconditional, conditional] halves.
     */
    static TestLayout layout(float[][][] boxes, double scale, double[] subjectScales) {
        return new TestLayout(77, 4, 4, boxes, boxes.length / 2, scale, Optional.ofNullable(subjectScales),
                List.<TextEncoder.TokenSpan>of(), 0, Optional.empty());
    }

    /** The same with auto layout over the given phrase spans. */
    static TestLayout autoLayout(float[][][] boxes, List<TextEncoder.TokenSpan> spans, AutoLayout auto) {
        return new TestLayout(77, 4, 4, boxes, boxes.length / 2, 0.6, Optional.empty(), spans, 20,
                Optional.of(auto));
    }
}
