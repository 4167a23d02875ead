package dev.montage.runtime.config;

import dev.montage.runtime.pipeline.ModelPaths;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code models}: where the weights are. With no path at all, the {@code montage} command uses its
 * embedded default model (tiny, random weights).
 *
 * @param base            the SDXL base diffusers folder ({@code model_index.json}, {@code unet/}, {@code vae/}, ...)
 * @param variant         weights variant to prefer where a folder has it, e.g. {@code fp16}
 * @param imageEncoder    the CLIP-ViT-bigG-14 image encoder folder (default: {@code image_encoder/} in the base)
 * @param msAdapter       MS-Diffusion's {@code ms_adapter.bin} (default: {@code ms_adapter.bin} in the base)
 * @param resamplerConfig the resampler settings JSON (default: {@code resampler_config.json} in the base, if any,
 *                        else MS-Diffusion's published settings)
 * @param controlnets     ControlNet folder by control type ({@code canny}, {@code depth}, {@code pose}, ...)
 */
public record ModelSettings(Optional<Path> base, Optional<String> variant, Optional<Path> imageEncoder,
        Optional<Path> msAdapter, Optional<Path> resamplerConfig, Map<String, Path> controlnets) {

    /** Model keys the paths are given to components under (see {@link dev.montage.api.host.ComponentContext}). */
    static final String IMAGE_ENCODER_KEY = "image_encoder";
    static final String MS_ADAPTER_KEY = "ms_adapter";
    static final String RESAMPLER_CONFIG_KEY = "resampler_config";
    static final String CONTROLNET_KEY_PREFIX = "controlnet.";

    public ModelSettings {
        base = Objects.requireNonNullElse(base, Optional.empty());
        variant = Objects.requireNonNullElse(variant, Optional.empty());
        imageEncoder = Objects.requireNonNullElse(imageEncoder, Optional.empty());
        msAdapter = Objects.requireNonNullElse(msAdapter, Optional.empty());
        resamplerConfig = Objects.requireNonNullElse(resamplerConfig, Optional.empty());
        controlnets = Collections.unmodifiableMap(new LinkedHashMap<>(controlnets));
    }

    /** Whether no model path is configured (the variant alone does not count). */
    public boolean isEmpty() {
        return base.isEmpty() && imageEncoder.isEmpty() && msAdapter.isEmpty() && resamplerConfig.isEmpty()
                && controlnets.isEmpty();
    }

    /** The same settings with another base folder. */
    public ModelSettings withBase(Path folder) {
        return new ModelSettings(Optional.of(folder), variant, imageEncoder, msAdapter, resamplerConfig, controlnets);
    }

    /**
     * The paths a pipeline is built from: the base folder's layout, then every explicit path.
     *
     * @throws IllegalStateException when no base folder is configured
     */
    public ModelPaths toModelPaths() {
        Path folder = base.orElseThrow(() -> new IllegalStateException("models.base is not set"));
        ModelPaths paths = ModelPaths.of(folder);
        if (imageEncoder.isPresent()) {
            paths = paths.with(IMAGE_ENCODER_KEY, imageEncoder.get());
        }
        if (msAdapter.isPresent()) {
            paths = paths.with(MS_ADAPTER_KEY, msAdapter.get());
        }
        if (resamplerConfig.isPresent()) {
            paths = paths.with(RESAMPLER_CONFIG_KEY, resamplerConfig.get());
        }
        for (Map.Entry<String, Path> e : controlnets.entrySet()) {
            paths = paths.with(CONTROLNET_KEY_PREFIX + e.getKey(), e.getValue());
        }
        return new ModelPaths(paths.base(), paths.paths(), variant);
    }
}
