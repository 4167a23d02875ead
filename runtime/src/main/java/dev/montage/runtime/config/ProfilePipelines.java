package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.PipelineBuilder;
import dev.montage.runtime.registry.ComponentRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/** Pipelines as a profile describes them. */
public final class ProfilePipelines {
    private ProfilePipelines() {
    }

    /**
     * A pipeline builder with the profile's model paths and variant, component ids, attention processors by layer,
     * default scheduler, component options and whether encoders are released; callers may change it further before building.
     *
     * @param profile a checked profile with a base model folder
     * @throws IllegalStateException when the profile has no base model folder
     */
    public static PipelineBuilder builder(Profile profile, MontageEngine engine, ComponentRegistry registry) {
        PipelineBuilder builder = new PipelineBuilder(engine, registry, profile.models().toModelPaths());
        profile.components().recipe().ifPresent(builder::recipe);
        profile.components().ids().forEach(builder::set);
        builder.set(ComponentKind.SCHEDULER, profile.defaults().scheduler());
        AttentionSettings attention = profile.components().attention();
        // a later attention() call wins: the catch-all first, the layer patterns last and in reverse, so that the
        // first pattern of the profile wins
        attention.self().ifPresent(id -> builder.attention(PipelineBuilder.ALL_LAYERS, id));
        attention.cross().ifPresent(builder::subjectAttention);
        List<Map.Entry<String, String>> layers = new ArrayList<>(attention.layers().entrySet());
        Collections.reverse(layers);
        layers.forEach(e -> builder.attention(e.getKey(), e.getValue()));
        profile.options().byKind().forEach(builder::options);
        builder.releaseEncoders(profile.pipeline().releaseEncoders());
        builder.releaseDenoiser(profile.pipeline().releaseDenoiser());
        return builder;
    }
}
