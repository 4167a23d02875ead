package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import java.nio.file.Path;

/**
 * A resolved configuration profile: every section of the runtime in the layered profile files, environment variables
 * and command-line settings, over the built-in defaults (sections of a host are {@link ProfileSection}s). Keys in
 * files are the record components in snake case ({@code engine.interop_threads}, {@code models.image_encoder},
 * ...). See {@link ProfileResolver}.
 *
 * @param engine     device, dtype, threads
 * @param models     weight paths
 * @param components component id per slot
 * @param defaults   generation parameters
 * @param options    component options per slot
 * @param pipeline   how the pipeline holds its components
 */
public record Profile(EngineSettings engine, ModelSettings models, ComponentSettings components,
        RequestDefaults defaults, ComponentOptions options, PipelineSettings pipeline) {

    /**
     * The profile key naming the component id of a slot, e.g. {@code components.unet}; the scheduler's is
     * {@code defaults.scheduler} and the attention processor's is {@code components.attention.cross}.
     *
     * @throws IllegalArgumentException for a kind that has no single slot (condition preprocessors go by control
     *                                  type)
     */
    public static String keyOf(ComponentKind kind) {
        return switch (kind) {
            case TEXT_ENCODER -> "components.text_encoder";
            case IMAGE_ENCODER -> "components.image_encoder";
            case SUBJECT_RESAMPLER -> "components.resampler";
            case DENOISING_MODEL -> "components.unet";
            case ATTENTION_PROCESSOR -> "components.attention.cross";
            case LATENT_DECODER -> "components.decoder";
            case CONDITIONER -> "components.conditioner";
            case SCHEDULER -> "defaults.scheduler";
            case CONDITION_PREPROCESSOR -> throw new IllegalArgumentException(
                    "condition preprocessors are chosen by control type, not by a profile key");
        };
    }

    /** The same profile with another base model folder. */
    public Profile withModelBase(Path folder) {
        return new Profile(engine, models.withBase(folder), components, defaults, options, pipeline);
    }
}
