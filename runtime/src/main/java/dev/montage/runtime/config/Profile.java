package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Recipe;
import dev.montage.runtime.registry.ComponentRegistry;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

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
            case RECIPE -> "components.recipe";
            case CONDITION_PREPROCESSOR -> throw new IllegalArgumentException(
                    "condition preprocessors are chosen by control type, not by a profile key");
        };
    }

    /**
     * The recipe the profile's unset slots come from: {@code components.recipe}, else the only one installed; empty
     * when that is not installed or there is not exactly one.
     */
    public Optional<Recipe> recipe(ComponentRegistry registry) {
        List<String> installed = registry.ids(ComponentKind.RECIPE);
        String id = components.recipe().orElse(installed.size() == 1 ? installed.get(0) : null);
        return id != null && installed.contains(id)
                ? Optional.of(registry.factory(ComponentKind.RECIPE, id, Recipe.class).create(null))
                : Optional.empty();
    }

    /**
     * The component ids of each slot that takes options (section {@code options}), in the section's order: the slot's
     * component, the attention processors of every layer ({@code cross}, {@code self}, the layer patterns') and the
     * default scheduler; an unset slot's is the recipe's.
     */
    public Map<ComponentKind, List<String>> componentsBySlot(Optional<Recipe> recipe) {
        Map<ComponentKind, String> ids = new EnumMap<>(ComponentKind.class);
        recipe.ifPresent(r -> ids.putAll(r.components()));
        ids.putAll(components.ids());
        Map<ComponentKind, List<String>> slots = new LinkedHashMap<>();
        for (ComponentKind kind : List.of(ComponentKind.TEXT_ENCODER, ComponentKind.IMAGE_ENCODER,
                ComponentKind.SUBJECT_RESAMPLER, ComponentKind.DENOISING_MODEL)) {
            slots.put(kind, Optional.ofNullable(ids.get(kind)).stream().toList());
        }
        Stream<String> cross = components.attention().cross().map(Stream::of)
                .orElseGet(() -> recipe.stream().flatMap(r -> r.subjectAttention().values().stream()));
        slots.put(ComponentKind.ATTENTION_PROCESSOR, Stream.concat(cross, attentionOutsideSubjects(recipe).stream())
                .distinct().toList());
        slots.put(ComponentKind.SCHEDULER, List.of(defaults.scheduler()));
        slots.put(ComponentKind.LATENT_DECODER, Optional.ofNullable(ids.get(ComponentKind.LATENT_DECODER)).stream()
                .toList());
        return slots;
    }

    /**
     * The attention processors of the layers where the subjects do not act: {@code self} (else the recipe's) and
     * the layer patterns'.
     */
    public List<String> attentionOutsideSubjects(Optional<Recipe> recipe) {
        AttentionSettings attention = components.attention();
        Stream<String> self = attention.self().map(Stream::of)
                .orElseGet(() -> recipe.stream().flatMap(r -> r.attention().values().stream()));
        return Stream.concat(self, attention.layers().values().stream()).distinct().toList();
    }

    /** The same profile with another default scheduler. */
    public Profile withDefaultScheduler(String id) {
        return new Profile(engine, models, components, new RequestDefaults(defaults.width(), defaults.height(),
                defaults.steps(), defaults.guidance(), defaults.scale(), id, defaults.negativePrompt(),
                defaults.count(), defaults.guidanceRescale()), options, pipeline);
    }

    /** The same profile with another base model folder. */
    public Profile withModelBase(Path folder) {
        return new Profile(engine, models.withBase(folder), components, defaults, options, pipeline);
    }
}
