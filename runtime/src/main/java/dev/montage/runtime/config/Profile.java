package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A resolved configuration profile: every section of the layered profile files, environment variables and
 * command-line settings, over the built-in defaults. Keys in files are the record components in snake case
 * ({@code engine.interop_threads}, {@code models.image_encoder}, ...). See {@link ProfileResolver}.
 *
 * @param engine     device, dtype, threads
 * @param models     weight paths
 * @param components component id per slot
 * @param defaults   generation parameters
 * @param server     server settings
 * @param options    component options per slot
 * @param pipeline   how the pipeline holds its components
 */
public record Profile(EngineSettings engine, ModelSettings models, ComponentSettings components,
        RequestDefaults defaults, ServerSettings server, ComponentOptions options, PipelineSettings pipeline) {

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

    /**
     * The component ids of each slot that takes options (section {@code options}), in the section's order: the slot's
     * component, the attention processors of every layer ({@code cross}, {@code self}, the layer patterns') and the
     * default scheduler.
     */
    public Map<ComponentKind, List<String>> componentsBySlot() {
        Map<ComponentKind, List<String>> slots = new LinkedHashMap<>();
        slots.put(ComponentKind.TEXT_ENCODER, List.of(components.textEncoder()));
        slots.put(ComponentKind.IMAGE_ENCODER, List.of(components.imageEncoder()));
        slots.put(ComponentKind.SUBJECT_RESAMPLER, List.of(components.resampler()));
        slots.put(ComponentKind.DENOISING_MODEL, List.of(components.unet()));
        AttentionSettings attention = components.attention();
        slots.put(ComponentKind.ATTENTION_PROCESSOR, Stream.concat(Stream.of(attention.cross(), attention.self()),
                attention.layers().values().stream()).distinct().toList());
        slots.put(ComponentKind.SCHEDULER, List.of(defaults.scheduler()));
        slots.put(ComponentKind.LATENT_DECODER, List.of(components.decoder()));
        return slots;
    }

    /** The same profile with another base model folder. */
    public Profile withModelBase(Path folder) {
        return new Profile(engine, models.withBase(folder), components, defaults, server, options, pipeline);
    }
}
