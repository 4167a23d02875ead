package dev.montage.runtime.pipeline;

import dev.montage.api.Box;
import dev.montage.api.ConfigurationException;
import dev.montage.api.FieldError;
import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.PluginException;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.config.AttentionSettings;
import dev.montage.runtime.config.PipelineSettings;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.config.ProfileSection;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Montage embedded in an application, and its one entry for building and running pipelines: a pipeline assembled
 * from a configuration profile, with components by id or as instances.
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
 * folders and files, that every component id is installed, that the components' sizes fit together) and reports
 * every problem at once. Components are created in dependency order; what was created is released by
 * {@link #close()}, or at once when the assembly fails half way. Instances the application gives stay its own.
 *
 * <p>ControlNets: the pipeline serves every control type {@code T} that has a folder {@code models.controlnets.T},
 * that is named by {@link Builder#controlTypes(Collection)}, or whose {@link Conditioner} instance is given. The
 * network of a type is the given instance, else the registered {@link ComponentKind#CONDITIONER} with id {@code T}
 * when a condition plugin provides one, else the profile's or the recipe's conditioner, built for type {@code T};
 * its preprocessor is the given instance, else the registered {@link ComponentKind#CONDITION_PREPROCESSOR} with id
 * {@code T}, if any.
 *
 * <p>Generations may run on several threads at once: each keeps its state to itself.
 */
public final class MontagePipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MontagePipeline.class);
    /**
     * The scheduler id under which {@link Builder#set(ComponentKind, Object)} adds a scheduler instance; requests
     * and the parameters of results name it so.
     */
    public static final String INSTANCE_SCHEDULER_ID = "custom";
    /** Side of the {@code small} warm-up's picture: the least an SDXL UNet's three halvings leave whole. */
    private static final int SMALL_WARM_UP = 64;

    private final ResolvedProfile profile;
    private final MontageEngine engine;
    private final boolean ownsEngine;
    private final AssembledPipeline assembled;
    /** The pipeline a LoRA variant was made from, null for one built. */
    private final MontagePipeline base;
    /** The open LoRA variants made from this one. */
    private final Set<MontagePipeline> variants = new LinkedHashSet<>();
    private boolean closed;

    private MontagePipeline(ResolvedProfile profile, MontageEngine engine, boolean ownsEngine,
            AssembledPipeline assembled, MontagePipeline base) {
        this.profile = profile;
        this.engine = engine;
        this.ownsEngine = ownsEngine;
        this.assembled = assembled;
        this.base = base;
    }

    /** A builder reading shipped profiles from the class path and no environment variables. */
    public static Builder builder() {
        return new Builder();
    }

    /** The profile it was built from, with where each value came from. */
    public ResolvedProfile profile() {
        return profile;
    }

    /**
     * How long creating each component took, its weights' reading and conversion included, by component as messages
     * name it (e.g. {@code denoising model 'sdxl-unet'}), in creation order. A component the profile releases between
     * generations shows its latest creation; one given as an instance does not show.
     */
    public Map<String, Duration> componentLoadTimes() {
        return assembled.loadTimes();
    }

    /** The engine it computes on. */
    public MontageEngine engine() {
        return engine;
    }

    /** A request holding the profile's defaults (size, steps, guidance, scale, scheduler, negative prompt, count). */
    public GenerationRequest.Builder request(String prompt) {
        return profile.profile().defaults().request(prompt);
    }

    /**
     * The generation {@link #warmUp()} runs, as profile key {@code pipeline.warm_up} says: one step of the profile's
     * default request on a picture of {@value #SMALL_WARM_UP} x {@value #SMALL_WARM_UP} ({@code small}) or of the
     * default size ({@code default_size}), with one subject of the fields its adapter reads and a control of every type
     * it has a ControlNet for (a black picture, not preprocessed); empty for {@code none}.
     */
    public Optional<GenerationRequest> warmUpRequest() {
        String warmUp = profile.profile().pipeline().warmUp();
        if (warmUp.equals(PipelineSettings.NONE)) {
            return Optional.empty();
        }
        GenerationRequest.Builder b = request("a picture").steps(1).numImages(1).scheduler(defaultSchedulerId());
        if (warmUp.equals(PipelineSettings.SMALL)) {
            b.size(SMALL_WARM_UP, SMALL_WARM_UP);
        }
        BufferedImage picture = new BufferedImage(SMALL_WARM_UP, SMALL_WARM_UP, BufferedImage.TYPE_INT_RGB);
        subjectFields().ifPresent(fields -> b.subject(Subject.of(picture, "warm-up",
                fields.reads().contains(SubjectResampler.SubjectField.PHRASE) ? "picture" : null,
                fields.reads().contains(SubjectResampler.SubjectField.BOX) ? Box.FULL : Box.NONE)));
        // preprocess=none also serves the types without a preprocessor
        controlNets().types().forEach(type -> b.control(new Control(type, picture, null, 1.0, 0, 1, false,
                Optional.empty(), Map.of())));
        return Optional.of(b.build());
    }

    /**
     * Runs {@link #warmUpRequest()} and drops its image, so that what a process does on first use (loading kernels,
     * compiling code, preparing the native products of each shape, growing the memory the activations reuse) is done
     * before the first request. After a {@code default_size} warm-up, a generation of that size runs its first step
     * close to its later ones (BENCHMARKS.md has the figures).
     *
     * @return whether a warm-up generation ran ({@code pipeline.warm_up} is not {@code none})
     */
    public boolean warmUp() {
        Optional<GenerationRequest> request = warmUpRequest();
        request.ifPresent(this::generate);
        return request.isPresent();
    }

    /** Runs one generation without progress reports; see {@link #generate(GenerationRequest, ProgressListener)}. */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, ProgressListener.NONE);
    }

    /**
     * Runs one generation on the calling thread. The listener's {@link ProgressListener#cancelRequested()} and an
     * interrupt of the thread are polled inside every stage.
     *
     * @throws GenerationCancelledException when the listener asked to stop or the thread was interrupted (the
     *     interrupt stays set); nothing of the generation remains
     * @throws InvalidRequestException naming each field of the request this pipeline cannot serve (an unknown
     *     scheduler or control type with the closest one, subjects without an adapter, a control its preprocessor
     *     refuses)
     * @throws ConfigurationException when a released component cannot be created again from its model files
     * @throws IllegalStateException after {@link #close()}
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        return open().generate(request, listener);
    }

    /**
     * As {@link #generate(GenerationRequest, ProgressListener)}, also returning the final latents, before they are
     * decoded, in {@code finalLatents[0]} when that array is given (to save them, or to compare implementations).
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener, Latents[] finalLatents) {
        return open().generate(request, listener, finalLatents);
    }

    /**
     * Runs one generation on a thread of its own; see {@link #generateAsync(GenerationRequest, ProgressListener,
     * Executor)}.
     */
    public CompletableFuture<GenerationResult> generateAsync(GenerationRequest request, ProgressListener listener) {
        return generateAsync(request, listener, task -> {
            Thread worker = new Thread(task, "montage-generation");
            worker.setDaemon(true);
            worker.start();
        });
    }

    /**
     * Runs one generation on {@code executor}. Cancelling the future ({@link CompletableFuture#cancel}) stops the
     * generation within one piece of work, as the listener's {@link ProgressListener#cancelRequested()} does, and
     * releases everything it holds; the future then reports the cancellation at once, as every cancelled future does
     * ({@link java.util.concurrent.CancellationException} from {@code get} and {@code join}). Otherwise it completes
     * exceptionally with what {@link #generate(GenerationRequest, ProgressListener)} throws: a stop the listener asks
     * for is a {@link GenerationCancelledException}.
     */
    public CompletableFuture<GenerationResult> generateAsync(GenerationRequest request, ProgressListener listener,
            Executor executor) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        CompletableFuture<GenerationResult> future = new CompletableFuture<>();
        ProgressListener watched = new ForwardingProgressListener(listener) {
            @Override
            public boolean onStep(int step, int total, Duration elapsed) {
                return super.onStep(step, total, elapsed) && !future.isCancelled();
            }

            @Override
            public boolean cancelRequested() {
                return future.isCancelled() || super.cancelRequested();
            }
        };
        executor.execute(() -> {
            if (future.isCancelled()) {
                return;
            }
            try {
                future.complete(generate(request, watched));
            } catch (RuntimeException | Error e) {
                future.completeExceptionally(e);
            }
        });
        return future;
    }

    /**
     * Where each phrase sits in the prompt's token sequence, as auto layout finds it (a repeated phrase takes its
     * next occurrence): the text encoder's {@link TextEncoder#locatePhrases}. A released text encoder
     * ({@code pipeline.release_encoders}) is loaded for the call, as a generation loads it.
     *
     * @return one [start, end) span per phrase; {@code [0, 0)} for a phrase that does not occur
     * @throws IllegalStateException after {@link #close()}
     */
    public List<TextEncoder.TokenSpan> locatePhrases(String prompt, List<String> phrases) {
        Objects.requireNonNull(prompt, "prompt");
        return open().locatePhrases(prompt, List.copyOf(phrases));
    }

    /**
     * The conditioning picture a control's ControlNet receives in a generation of {@code width x height}: its
     * preprocessor's output (unless it says {@code preprocess=none}), resized to that size, made by the code a
     * generation runs ({@link ProgressListener#onControlImage} reports the same picture).
     *
     * @return RGB, {@code width x height}
     * @throws dev.montage.api.InvalidRequestException when this pipeline does not serve the control's type, its
     *     preprocessor does not take its options, or the preprocessor refuses the control's picture or data
     * @throws IllegalStateException after {@link #close()}
     */
    public BufferedImage controlImage(Control control, int width, int height) {
        Objects.requireNonNull(control, "control");
        return open().controlImage(control, width, height);
    }

    /** The pipeline, checked to be open: a closed one would fail on released weights with a less clear message. */
    private Pipeline open() {
        synchronized (variants) {
            if (closed) {
                throw new IllegalStateException("the pipeline is closed");
            }
        }
        return assembled.pipeline();
    }

    /** The scheduler ids requests may name: every registered scheduler and the instances given. */
    public List<String> schedulerIds() {
        return assembled.pipeline().schedulerIds();
    }

    /** The scheduler id used when a request names none. */
    public String defaultSchedulerId() {
        return assembled.pipeline().defaultSchedulerId();
    }

    /**
     * What is wrong with a scheduler id and settings a request would give ({@code scheduler},
     * {@code schedulerOptions}), for callers that check requests before they run them; empty when they are fine.
     *
     * @param id      the scheduler id
     * @param options the settings laid over the scheduler's own
     * @throws ConfigurationException when the scheduler's plugin cannot create it
     */
    public List<FieldError> schedulerProblems(String id, Map<String, String> options) {
        return assembled.pipeline().schedulerProblems(id, options);
    }

    /**
     * What this pipeline's components refuse in a request for what their options make of it (a text encoder's reading
     * of the prompt), for callers that check requests before they run them; empty when nothing. A generation checks the
     * same first.
     */
    public List<FieldError> requestProblems(GenerationRequest request) {
        return assembled.pipeline().requestProblems(request);
    }

    /** Control types this pipeline has a ControlNet for, sorted; requests with other types are refused. */
    public List<String> controlTypes() {
        return assembled.pipeline().controlTypes();
    }

    /**
     * The subject fields its adapter reads, which check the subjects of a request; empty when it takes no subjects.
     * The first call asks the resampler (loading it when encoders are released).
     */
    public Optional<SubjectFields> subjectFields() {
        return assembled.pipeline().takesSubjects() ? Optional.of(assembled.pipeline().subjectFields())
                : Optional.empty();
    }

    /** The ControlNets and condition preprocessors it runs, which check the controls of a request. */
    public ControlNets controlNets() {
        return assembled.pipeline().controlNets();
    }

    /**
     * This pipeline with more LoRAs: the components they adapt (the text encoder, the denoiser) are loaded again with
     * this pipeline's LoRAs and {@code loras} fused into their weights, all the others are shared. This pipeline's
     * own weights are not changed, so its generations stay exactly as they were, before, during and after the
     * variant's. Close the variant when it is no longer needed; closing this pipeline closes its open variants.
     *
     * @throws ConfigurationException naming a LoRA that is refused, as {@link Builder#lora} refuses it when the
     *     pipeline is built
     * @throws IllegalStateException on a variant (add every LoRA to the pipeline it was made from) or after
     *     {@link #close()}
     */
    public MontagePipeline withLoras(List<Lora> loras) {
        if (base != null) {
            throw new IllegalStateException("this pipeline is a LoRA variant; make variants of the pipeline it was "
                    + "made from");
        }
        synchronized (variants) {
            if (closed) {
                throw new IllegalStateException("the pipeline is closed");
            }
            MontagePipeline variant = new MontagePipeline(profile, engine, false,
                    assembled.withLoras(List.copyOf(loras)), this);
            variants.add(variant);
            return variant;
        }
    }

    /**
     * Releases the components, the model files and the engine if the builder started it; first the open LoRA
     * variants ({@link #withLoras}). Closing again does nothing.
     */
    @Override
    public void close() {
        List<MontagePipeline> open;
        synchronized (variants) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>(variants);
        }
        open.forEach(MontagePipeline::close);
        assembled.close();
        if (base != null) {
            synchronized (base.variants) {
                base.variants.remove(this);
            }
        }
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
        /** The ControlNet choices, applied to the assembly in the order made; the profile checks do not need them. */
        private final List<Consumer<PipelineBuilder>> controls = new ArrayList<>();
        private final List<ProfileSection<?>> sections = new ArrayList<>();
        private ProfileCatalog catalog = ProfileCatalog.classpath(MontagePipeline.class.getClassLoader());
        private ComponentRegistry registry;
        private Map<String, String> environment = Map.of();
        private MontageEngine engine;
        private boolean subjects = true;
        private final List<Lora> loras = new ArrayList<>();
        private boolean ignoreUnmatchedLoraModules;
        private Path cacheFolder;
        private Consumer<Path> randomModelWriting;

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

        /**
         * Where random models ({@code models.random}) are written once and kept (default: {@code MONTAGE_HOME} of
         * the {@link #environment(Map) environment}, else {@code ~/.cache/montage}).
         */
        public Builder cacheFolder(Path folder) {
            cacheFolder = Objects.requireNonNull(folder, "folder");
            return this;
        }

        /**
         * Told the folder before a random model ({@code models.random}) is written into the cache folder, which takes
         * minutes at full size (default: a log line at INFO).
         */
        public Builder onRandomModelWrite(Consumer<Path> writing) {
            randomModelWriting = Objects.requireNonNull(writing, "writing");
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
         * (id {@value MontagePipeline#INSTANCE_SCHEDULER_ID}); an attention processor instance serves the
         * layers where the recipe's subjects act.
         *
         * @throws IllegalArgumentException when it does not implement {@code kind.type()}, or for a conditioner or
         *     condition preprocessor ({@link #conditioner}, {@link #preprocessor}) or a recipe (chosen by id)
         */
        public Builder set(ComponentKind kind, Object component) {
            PipelineBuilder.checkSlotInstance(kind, component);
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
         * Serves these control types too, besides those with a folder {@code models.controlnets.<type>}: a condition
         * plugin brings their network, or the conditioner finds weights that serve any type (such as a generic
         * {@code controlnet} folder in the base model folder).
         *
         * @throws IllegalArgumentException when a type is not lower-case letters, digits, '-' and '_'
         */
        public Builder controlTypes(Collection<String> types) {
            List<String> checked = types.stream().map(PipelineBuilder::checkType).toList();
            controls.add(b -> b.controlTypes(checked));
            return this;
        }

        /**
         * Uses an instance as the ControlNet of its type ({@link Conditioner#type()}), which the pipeline then serves;
         * the caller keeps ownership.
         *
         * @throws IllegalArgumentException when its type is not lower-case letters, digits, '-' and '_'
         */
        public Builder conditioner(Conditioner conditioner) {
            PipelineBuilder.checkType(conditioner.type());
            controls.add(b -> b.conditioner(conditioner));
            return this;
        }

        /**
         * Uses an instance as the preprocessor of its type ({@link ConditionPreprocessor#type()}); the caller keeps
         * ownership.
         *
         * @throws IllegalArgumentException when its type is not lower-case letters, digits, '-' and '_'
         */
        public Builder preprocessor(ConditionPreprocessor preprocessor) {
            PipelineBuilder.checkType(preprocessor.type());
            controls.add(b -> b.preprocessor(preprocessor));
            return this;
        }

        /**
         * What the ControlNets cross-attend to when a control does not choose ({@link ControlNetContext}; default
         * text-only).
         */
        public Builder controlNetContext(ControlNetContext context) {
            Objects.requireNonNull(context, "context");
            controls.add(b -> b.controlNetContext(context));
            return this;
        }

        /**
         * Applies a LoRA (kohya-ss or diffusers format) to the models it adapts (the UNet and the text encoders, with
         * the same scale) when they are loaded, after the profile's ({@code models.loras}); several LoRAs add up.
         */
        public Builder lora(Lora lora) {
            loras.add(Objects.requireNonNull(lora, "lora"));
            return this;
        }

        /**
         * Leaves out LoRA modules that name no layer of the pipeline's models instead of refusing the build; a LoRA
         * none of whose modules names a layer is refused all the same.
         */
        public Builder ignoreUnmatchedLoraModules() {
            ignoreUnmatchedLoraModules = true;
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
         * Checks everything, then starts the engine (unless one was given) and assembles the pipeline. The default
         * scheduler is created here, the other registered ones when a request first names them.
         *
         * @throws ProfileException listing every problem of the configuration, before any weight is read (a component
         *     id no installed plugin provides, given here or in a profile, is one of them, named with the closest id)
         * @throws PluginException when a component the recipe names is not installed
         * @throws ConfigurationException listing every mismatch between the components, before any weight is read;
         *     naming a component that cannot be created from its model files, with the plugin's error as the cause
         */
        public MontagePipeline build() {
            ResolvedProfile resolved = ModelScheduler.applied(withRandomModel(resolver(true).resolve(profiles), true)
                    .orElseThrow(), registry());
            boolean ownsEngine = engine == null;
            MontageEngine e = ownsEngine ? MontageEngine.start(resolved.profile().engine().toConfig()) : engine;
            try {
                return new MontagePipeline(resolved, e, ownsEngine, pipelineBuilder(resolved, e).build(), null);
            } catch (RuntimeException x) {
                if (ownsEngine) {
                    e.close();
                }
                throw x;
            }
        }

        /**
         * Checks what {@link #build()} checks before reading a weight, and then that the components fit together
         * (the sizes each declares from its configuration files), without assembling anything.
         * Sizes do not depend on the device or dtype, so unless an engine was given a float32 CPU engine is
         * started for the check and closed again: the profile's device need not be present. A random model
         * ({@code models.random}) that is not in the cache folder yet is not written for a check (a full-size one is
         * gigabytes): it is made from the installed components' own declarations, so its files fit them; only the
         * profile is checked then, and the returned one has no {@code models.base}.
         *
         * @return the resolved configuration
         * @throws ProfileException listing every problem of the configuration
         * @throws ConfigurationException listing every mismatch between the components
         */
        public ResolvedProfile validate() {
            ResolvedProfile profile = resolver(true).resolve(profiles);
            Optional<ResolvedProfile> written = withRandomModel(profile, false);
            if (written.isEmpty()) {
                return profile;
            }
            ResolvedProfile resolved = ModelScheduler.applied(written.get(), registry());
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

        /**
         * The profile with its random model ({@code models.random}) as the base folder, written into the cache folder
         * first if it is not there yet and {@code write} is set; empty when it is not there and not written.
         */
        private Optional<ResolvedProfile> withRandomModel(ResolvedProfile resolved, boolean write) {
            Profile p = resolved.profile();
            Optional<String> name = p.models().random();
            if (name.isEmpty()) {
                return Optional.of(resolved);
            }
            RandomModel model = RandomModel.of(registry(), p.components().recipe());
            TensorDType storage = model.storage(name.get());
            Path folder;
            try {
                if (write) {
                    folder = model.cached(cacheFolder(), name.get(), storage, randomModelWriting != null
                            ? randomModelWriting : f -> LOG.info("writing the random model {} into {}", name.get(), f));
                } else {
                    Optional<Path> present = model.cachedIfPresent(cacheFolder(), name.get(), storage);
                    if (present.isEmpty()) {
                        return Optional.empty();
                    }
                    folder = present.get();
                }
            } catch (IOException e) {
                throw new ConfigurationException("cannot write the random model " + name.get() + " into the cache "
                        + "folder " + cacheFolder() + ": " + e.getMessage(), e);
            }
            Map<String, String> origins = new LinkedHashMap<>(resolved.origins());
            origins.put("models.base", "models.random: " + name.get() + " (" + resolved.origin("models.random")
                    + ")");
            return Optional.of(new ResolvedProfile(p.withModelBase(folder), resolved.layers(), origins,
                    resolved.sections()));
        }

        private Path cacheFolder() {
            return cacheFolder != null ? cacheFolder : RandomModel.cacheFolder(environment);
        }

        /** The profile's pipeline, then this builder's choices, which win over the profile's. */
        private PipelineBuilder pipelineBuilder(ResolvedProfile resolved, MontageEngine e) {
            PipelineBuilder builder = fromProfile(resolved.profile(), e, registry());
            if (!subjects) {
                builder.withoutSubjects();
            }
            instances.forEach(builder::set);
            schedulers.forEach(builder::scheduler);
            attention.forEach(builder::attention);
            controls.forEach(c -> c.accept(builder));
            loras.forEach(builder::lora);
            builder.ignoreUnmatchedLoraModules(ignoreUnmatchedLoraModules);
            return builder;
        }

        /**
         * A pipeline builder with the profile's model paths and variant, recipe, component ids, attention processors
         * by layer, default scheduler, component options and released components.
         */
        private static PipelineBuilder fromProfile(Profile profile, MontageEngine engine, ComponentRegistry registry) {
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
            profile.models().loras().forEach(l -> builder.lora(l.toLora()));
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
                resolver.extraId(ComponentKind.SCHEDULER, INSTANCE_SCHEDULER_ID);
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
