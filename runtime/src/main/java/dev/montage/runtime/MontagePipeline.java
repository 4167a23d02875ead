package dev.montage.runtime;

import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.config.ProfilePipelines;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.config.ProfileSection;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.AssembledPipeline;
import dev.montage.runtime.pipeline.ComponentChoice;
import dev.montage.runtime.pipeline.Pipeline;
import dev.montage.runtime.pipeline.PipelineBuilder;
import dev.montage.runtime.registry.ComponentRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Montage embedded in an application: a pipeline assembled from a configuration profile, with components by id
 * or as instances.
 *
 * <pre>{@code
 * try (MontagePipeline montage = MontagePipeline.builder()
 *         .profile(Path.of("my-model.yaml"))
 *         .set(ComponentKind.SCHEDULER, "ddim")
 *         .set(ComponentKind.ATTENTION_PROCESSOR, myProcessor)
 *         .build()) {
 *     GenerationResult result = montage.generate(montage.request("a dog on the beach").seed(42).build());
 * }
 * }</pre>
 *
 * <p>{@link Builder#build()} checks the whole assembly before any weight is read (profile keys and values, model
 * folders and files, that every component id is installed) and reports every problem at once in a
 * {@link ProfileException}.
 */
public final class MontagePipeline implements AutoCloseable {
    private final ResolvedProfile profile;
    private final MontageEngine engine;
    private final boolean ownsEngine;
    private final AssembledPipeline assembled;

    private MontagePipeline(ResolvedProfile profile, MontageEngine engine, boolean ownsEngine,
            AssembledPipeline assembled) {
        this.profile = profile;
        this.engine = engine;
        this.ownsEngine = ownsEngine;
        this.assembled = assembled;
    }

    /** A builder reading shipped profiles from the class path and no environment variables. */
    public static Builder builder() {
        return new Builder();
    }

    /** The profile it was built from, with where each value came from. */
    public ResolvedProfile profile() {
        return profile;
    }

    /** The engine it computes on. */
    public MontageEngine engine() {
        return engine;
    }

    /** The generation loop. */
    public Pipeline pipeline() {
        return assembled.pipeline();
    }

    /** A request holding the profile's defaults (size, steps, guidance, scale, scheduler, negative prompt, count). */
    public GenerationRequest.Builder request(String prompt) {
        return profile.profile().defaults().request(prompt);
    }

    /** Runs one generation without progress reports. */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, ProgressListener.NONE);
    }

    /** Runs one generation. */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        return assembled.pipeline().generate(request, listener);
    }

    /** Releases the components, the model files and the engine if the builder started it. */
    @Override
    public void close() {
        assembled.close();
        if (ownsEngine) {
            engine.close();
        }
    }

    private record Setting(String key, Object value, String source) {
    }

    /** Collects the profile layers, overrides and instances; {@link #build()} checks them all, then assembles. */
    public static final class Builder {
        private static final String SOURCE = "MontagePipeline.Builder.";
        private final List<String> profiles = new ArrayList<>();
        private final List<Setting> settings = new ArrayList<>();
        private final Map<ComponentKind, Object> instances = new EnumMap<>(ComponentKind.class);
        private final Map<String, ComponentChoice<AttentionProcessor>> attention = new LinkedHashMap<>();
        private final Map<String, Scheduler> schedulers = new LinkedHashMap<>();
        private final List<Consumer<PipelineBuilder>> adjustments = new ArrayList<>();
        private final List<ProfileSection<?>> sections = new ArrayList<>();
        private ProfileCatalog catalog = ProfileCatalog.classpath(MontagePipeline.class.getClassLoader());
        private ComponentRegistry registry;
        private Map<String, String> environment = Map.of();
        private MontageEngine engine;
        private boolean subjects = true;

        private Builder() {
        }

        /** Adds profile layers by shipped name or file path; later layers override earlier ones. */
        public Builder profile(String... namesOrPaths) {
            profiles.addAll(List.of(namesOrPaths));
            return this;
        }

        /** Adds a profile file as the strongest layer so far. */
        public Builder profile(Path file) {
            profiles.add(file.toString());
            return this;
        }

        /** Where shipped profile names lead (default: class path resources). */
        public Builder catalog(ProfileCatalog profileCatalog) {
            catalog = Objects.requireNonNull(profileCatalog, "profileCatalog");
            return this;
        }

        /** Reads {@code MONTAGE_<SECTION>_<KEY>} overrides from these variables (default: none). */
        public Builder environment(Map<String, String> variables) {
            environment = Map.copyOf(variables);
            return this;
        }

        /** Overrides a profile key, e.g. {@code setting("engine.device", "cpu")}; {@code null} clears it. */
        public Builder setting(String key, Object value) {
            return setting(key, value, SOURCE + "setting(" + key + ")");
        }

        /**
         * Overrides a profile key.
         *
         * @param source what set it, for messages (e.g. {@code command line --steps})
         */
        public Builder setting(String key, Object value, String source) {
            settings.add(new Setting(key, value, source));
            return this;
        }

        /**
         * Adds a section the application owns to the profile ({@link ProfileResolver#section}); its values are in
         * {@link ResolvedProfile#section}.
         */
        public Builder section(ProfileSection<?> section) {
            sections.add(Objects.requireNonNull(section, "section"));
            return this;
        }

        /** The installed components (default: what {@link java.util.ServiceLoader} finds on the class path). */
        public Builder registry(ComponentRegistry componentRegistry) {
            registry = Objects.requireNonNull(componentRegistry, "componentRegistry");
            return this;
        }

        /** Computes on an engine that the caller owns (default: one started from the profile, closed with it). */
        public Builder engine(MontageEngine sharedEngine) {
            engine = Objects.requireNonNull(sharedEngine, "sharedEngine");
            return this;
        }

        /**
         * Uses the registered component {@code id} for a slot: sets the slot's profile key
         * ({@link Profile#keyOf(ComponentKind)}; for the scheduler that is the default of requests, for the
         * attention processor the layers where the recipe's subjects act).
         */
        public Builder set(ComponentKind kind, String id) {
            instances.remove(kind);
            return setting(Profile.keyOf(kind), id, SOURCE + "set(" + kind + ")");
        }

        /**
         * Uses an instance for a slot; the caller keeps ownership. A scheduler instance becomes the default scheduler
         * (id {@value PipelineBuilder#INSTANCE_SCHEDULER_ID}); an attention processor instance serves the
         * layers where the recipe's subjects act.
         *
         * @throws IllegalArgumentException when it does not implement {@code kind.type()}
         */
        public Builder set(ComponentKind kind, Object component) {
            if (!kind.type().isInstance(component)) {
                throw new IllegalArgumentException(component.getClass().getName() + " is not a "
                        + kind.type().getName());
            }
            if (kind == ComponentKind.CONDITIONER || kind == ComponentKind.CONDITION_PREPROCESSOR) {
                throw new IllegalArgumentException("a " + kind + " serves a control type, not a slot of the pipeline");
            }
            instances.put(kind, component);
            return this;
        }

        /**
         * Chooses the registered attention processor {@code id} for the layers whose dotted name matches
         * {@code layerPattern}; later calls win over earlier ones and over the profile.
         *
         * @throws java.util.regex.PatternSyntaxException when the pattern is not a regular expression
         */
        public Builder attention(String layerPattern, String id) {
            return attention(layerPattern, ComponentChoice.byId(id));
        }

        /** As {@link #attention(String, String)} with an instance, which the caller keeps owning. */
        public Builder attention(String layerPattern, AttentionProcessor processor) {
            return attention(layerPattern, ComponentChoice.instance(processor));
        }

        private Builder attention(String layerPattern, ComponentChoice<AttentionProcessor> processor) {
            Pattern.compile(layerPattern);
            attention.remove(layerPattern);
            attention.put(layerPattern, processor);
            return this;
        }

        /** Adds a scheduler instance that requests can name by {@code id}. */
        public Builder scheduler(String id, Scheduler scheduler) {
            schedulers.put(id, scheduler);
            return this;
        }

        /**
         * Adjusts the {@link PipelineBuilder} after the profile and this builder's choices were applied, for what this
         * builder does not offer itself. What it adds is not part of the checks {@link #build()} runs first.
         */
        public Builder configure(Consumer<PipelineBuilder> adjustment) {
            adjustments.add(Objects.requireNonNull(adjustment, "adjustment"));
            return this;
        }

        /** Builds text-to-image without subjects: no image encoder, resampler or the recipe's subject attention. */
        public Builder withoutSubjects() {
            subjects = false;
            return this;
        }

        /**
         * Resolves and checks the profile as {@link #build()} will use it, without assembling; with no model paths
         * configured that is not an error here (the caller may supply the model).
         *
         * @throws ProfileException listing every problem
         */
        public ResolvedProfile resolve() {
            return resolver(false).resolve(profiles);
        }

        /**
         * Checks everything, then starts the engine (unless one was given) and assembles the pipeline.
         *
         * @throws ProfileException listing every problem of the configuration, before any weight is read
         */
        public MontagePipeline build() {
            ResolvedProfile resolved = resolver(true).resolve(profiles);
            boolean ownsEngine = engine == null;
            MontageEngine e = ownsEngine ? MontageEngine.start(resolved.profile().engine().toConfig()) : engine;
            try {
                return new MontagePipeline(resolved, e, ownsEngine, pipelineBuilder(resolved, e).build());
            } catch (RuntimeException x) {
                if (ownsEngine) {
                    e.close();
                }
                throw x;
            }
        }

        /**
         * Checks what {@link #build()} checks before reading a weight, and then that the components fit together
         * ({@link PipelineBuilder#validate()}: sizes from their configuration files), without assembling anything.
         * Sizes do not depend on the device or dtype, so unless an engine was given a float32 CPU engine is
         * started for the check and closed again: the profile's device need not be present.
         *
         * @return the resolved configuration
         * @throws ProfileException listing every problem of the configuration
         * @throws IllegalArgumentException listing every mismatch between the components
         */
        public ResolvedProfile validate() {
            ResolvedProfile resolved = resolver(true).resolve(profiles);
            // no thread counts: the check computes nothing, and a later build's engine still sets the profile's
            MontageEngine e = engine != null ? engine : MontageEngine.start(EngineConfig.of("cpu", "float32"));
            try {
                pipelineBuilder(resolved, e).validate();
                return resolved;
            } finally {
                if (e != engine) {
                    e.close();
                }
            }
        }

        private PipelineBuilder pipelineBuilder(ResolvedProfile resolved, MontageEngine e) {
            PipelineBuilder builder = ProfilePipelines.builder(resolved.profile(), e, registry());
            if (!subjects) {
                builder.withoutSubjects();
            }
            instances.forEach(builder::set);
            schedulers.forEach(builder::scheduler);
            attention.forEach(builder::attention);
            adjustments.forEach(a -> a.accept(builder));
            return builder;
        }

        private ProfileResolver resolver(boolean requireModels) {
            ProfileResolver resolver = new ProfileResolver(catalog, registry()).environment(environment);
            sections.forEach(resolver::section);
            settings.forEach(s -> resolver.set(s.key(), s.value(), s.source()));
            attention.forEach((pattern, processor) -> processor.registeredId().ifPresent(id -> resolver.uses(
                    ComponentKind.ATTENTION_PROCESSOR, id, SOURCE + "attention(" + pattern + ")")));
            instances.keySet().forEach(resolver::provided);
            if (instances.containsKey(ComponentKind.SCHEDULER)) {
                resolver.extraId(ComponentKind.SCHEDULER, PipelineBuilder.INSTANCE_SCHEDULER_ID);
            }
            schedulers.keySet().forEach(id -> resolver.extraId(ComponentKind.SCHEDULER, id));
            if (!subjects) {
                resolver.withoutSubjects();
            }
            if (requireModels) {
                resolver.requireModels();
            }
            return resolver;
        }

        private ComponentRegistry registry() {
            if (registry == null) {
                registry = ComponentRegistry.fromClasspath(MontagePipeline.class.getClassLoader());
            }
            return registry;
        }
    }
}
