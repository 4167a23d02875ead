package dev.montage.api.host;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.Options;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the host gives a component factory: where to compute, in which dtype, with which kernels, and the
 * model files the profile configured.
 *
 * <p>Model keys are the ones the components declare ({@link dev.montage.api.spi.ModelFile}), e.g. the diffusers
 * component names of a base model ({@code unet}, {@code vae}, {@code text_encoder}) or an adapter's checkpoint.
 */
public interface ComponentContext {

    /** The device every tensor of the component must live on. */
    Device device();

    /** The compute dtype. */
    ComputeDType dtype();

    /** Fused kernels for that device and dtype. */
    Kernels kernels();

    /** A long-lived manager on {@link #device()} for the component's weights (closed with the pipeline). */
    NDManager manager();

    /**
     * A configured model component folder ({@code config.json} + weights).
     *
     * @throws IllegalArgumentException naming the key and the profile entry that should provide it
     */
    ModelFolder model(String key);

    /**
     * The tensors of a configured checkpoint file, e.g. {@code ms_adapter} ({@code ms_adapter.bin}).
     *
     * @throws IllegalArgumentException naming the key and the profile entry that should provide it
     */
    ModelWeights checkpoint(String key);

    /**
     * The weights files of a configured folder key, each by its file name without the extension, e.g. the textual
     * inversion embeddings of {@code embeddings} (A1111's {@code embeddings/} folder): every safetensors file and torch
     * checkpoint in the folder itself ({@code .safetensors}, {@code .pt}, {@code .bin}, {@code .ckpt}); other files,
     * such as preview pictures beside them, are not weights and are not read. Empty when the key has no path.
     *
     * @throws IllegalArgumentException naming the key when its path is not a folder or a weights file cannot be read
     */
    default Map<String, ModelWeights> weightFiles(String key) {
        throw new UnsupportedOperationException("this host does not read folders of weights files");
    }

    /** A configured path (file or folder), if the profile has one under that key. */
    Optional<Path> path(String key);

    /** The base model's pipeline settings ({@code model_index.json}), empty when there is none. */
    ModelConfig pipelineConfig();

    /**
     * The component's options (profile section {@code options.<slot>}), checked by the host against what its factory
     * declares ({@link dev.montage.api.spi.ComponentFactory#options()}); read them with
     * {@link Options#get(dev.montage.api.spi.OptionSpec)}.
     */
    Options options();

    /**
     * For an attention processor: the attention layers of the denoising model it serves, in the model's processor
     * order (adapters bind their per-layer weights to them).
     *
     * @throws IllegalStateException when the component is not an attention processor created for a denoising model
     */
    default List<AttentionLayerSpec> attentionLayers() {
        throw new IllegalStateException("only an attention processor created for a denoising model is given its "
                + "attention layers");
    }
}
