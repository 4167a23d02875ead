package dev.montage.runtime.pipeline;

import dev.montage.api.ConfigurationException;
import dev.montage.api.ControlNetContext;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.LoraTarget;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.RequestCheck;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.SlotOptions;
import dev.montage.runtime.weights.LoraWeights;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Assembles a {@link Pipeline} from registered components (by id) or instances, on one engine and one set of
 * model paths; {@link MontagePipeline.Builder} drives it from a checked profile. What is not chosen comes from the
 * {@link Recipe}: the one named by {@link #recipe(String)}, else the only one installed. Components are created in
 * dependency order and everything created is released by {@link AssembledPipeline#close()}, also when assembly
 * fails half way.
 *
 * <p>ControlNets: the pipeline serves every control type {@code T} that has a model path {@code controlnet.T}, that
 * is named by {@link #controlTypes(Collection)}, or whose {@link Conditioner} instance is given. The network of a
 * type is the registered {@link ComponentKind#CONDITIONER} with id {@code T} when a condition plugin provides one,
 * else the chosen or the recipe's conditioner, created with option {@link Conditioner#CONTROL_TYPE}{@code =T}; its
 * preprocessor is the registered {@link ComponentKind#CONDITION_PREPROCESSOR} with id {@code T}, if any.
 */
final class PipelineBuilder {
    /** Layer-name pattern of every attention layer. */
    static final String ALL_LAYERS = ".*";

    /** Component option telling a conditioner factory which control type it builds for. */
    private static final String CONTROL_TYPE_OPTION = Conditioner.CONTROL_TYPE.name();

    /** Control images reach the ControlNets as RGB. */
    private static final int CONTROL_IMAGE_CHANNELS = 3;

    private final MontageEngine engine;
    private final ComponentRegistry registry;
    private final ModelPaths paths;
    private final Map<ComponentKind, String> ids = new EnumMap<>(ComponentKind.class);
    private final Map<ComponentKind, Object> instances = new EnumMap<>(ComponentKind.class);
    /** Attention processors chosen by layer pattern, the latest first; the recipe's come after them. */
    private final Map<Pattern, ComponentChoice<AttentionProcessor>> attention = new LinkedHashMap<>();
    /** The processor replacing the recipe's on the layers where the subjects act, if chosen. */
    private ComponentChoice<AttentionProcessor> subjectAttention;
    private String recipeId;
    private Recipe recipe;
    private final Map<String, Scheduler> extraSchedulers = new LinkedHashMap<>();
    private final Map<ComponentKind, Map<String, String>> options = new EnumMap<>(ComponentKind.class);
    private boolean subjects = true;
    private final Set<String> controlTypes = new TreeSet<>();
    private final Map<String, Conditioner> conditioners = new LinkedHashMap<>();
    private final Map<String, ConditionPreprocessor> preprocessors = new LinkedHashMap<>();
    private ControlNetContext controlNetContext = ControlNetContext.TEXT_ONLY;
    private boolean releaseEncoders;
    private boolean releaseDenoiser;
    private final List<Lora> loras = new ArrayList<>();
    /** How long each component's creation took, by its description, in creation order; a re-creation replaces it. */
    private final Map<String, Duration> loadTimes = Collections.synchronizedMap(new LinkedHashMap<>());
    private boolean ignoreUnmatchedLoraModules;

    PipelineBuilder(MontageEngine engine, ComponentRegistry registry, ModelPaths paths) {
        this.engine = engine;
        this.registry = registry;
        this.paths = paths;
    }

    /** Takes what is not chosen from the registered recipe {@code id} (default: the only one installed). */
    PipelineBuilder recipe(String id) {
        recipeId = Objects.requireNonNull(id, "id");
        recipe = null;
        return this;
    }

    /** Uses the registered component {@code id} for a slot. */
    PipelineBuilder set(ComponentKind kind, String id) {
        ids.put(kind, id);
        instances.remove(kind);
        return this;
    }

    /**
     * Uses an instance for a slot; it is not closed by the pipeline. A scheduler instance becomes the default
     * scheduler, under the id {@value MontagePipeline#INSTANCE_SCHEDULER_ID}; an attention processor instance serves
     * the layers where the recipe's subjects act ({@link #subjectAttention(AttentionProcessor)}).
     *
     * @throws IllegalArgumentException as {@link #checkSlotInstance}
     */
    PipelineBuilder set(ComponentKind kind, Object component) {
        checkSlotInstance(kind, component);
        switch (kind) {
            case SCHEDULER -> scheduler(MontagePipeline.INSTANCE_SCHEDULER_ID, (Scheduler) component)
                    .set(ComponentKind.SCHEDULER, MontagePipeline.INSTANCE_SCHEDULER_ID);
            case ATTENTION_PROCESSOR -> subjectAttention((AttentionProcessor) component);
            default -> instances.put(kind, component);
        }
        return this;
    }

    /**
     * Checks that an instance can fill the slot of a kind.
     *
     * @throws IllegalArgumentException when it does not implement {@code kind.type()}; for a conditioner or condition
     *     preprocessor, which serve a control type rather than a slot; for a recipe, which is chosen by id
     */
    static void checkSlotInstance(ComponentKind kind, Object component) {
        if (!kind.type().isInstance(component)) {
            throw new IllegalArgumentException(component.getClass().getName() + " is not a " + kind.type().getName());
        }
        switch (kind) {
            case CONDITIONER -> throw new IllegalArgumentException("a conditioner serves a control type, not a slot "
                    + "of the pipeline; expected it given with conditioner(Conditioner)");
            case CONDITION_PREPROCESSOR -> throw new IllegalArgumentException("a condition preprocessor serves a "
                    + "control type, not a slot of the pipeline; expected it given with "
                    + "preprocessor(ConditionPreprocessor)");
            case RECIPE -> throw new IllegalArgumentException("a recipe is chosen by id, not given as an instance");
            default -> {
            }
        }
    }

    /** Options handed to the components of a kind that the builder creates (replacing earlier ones). */
    PipelineBuilder options(ComponentKind kind, Map<String, String> componentOptions) {
        options.put(kind, Map.copyOf(componentOptions));
        return this;
    }

    /** Adds a scheduler instance under an id (registered schedulers are always available). */
    PipelineBuilder scheduler(String id, Scheduler scheduler) {
        extraSchedulers.put(id, scheduler);
        return this;
    }

    /**
     * Chooses the registered attention processor {@code id} for the layers whose dotted name fully matches
     * {@code layerPattern} (regular expression); later calls win over earlier ones, and every call over the recipe.
     */
    PipelineBuilder attention(String layerPattern, String id) {
        return attention(layerPattern, ComponentChoice.byId(id));
    }

    /**
     * As {@link #attention(String, String)} with a processor chosen either way; an instance is not closed by the
     * pipeline.
     */
    PipelineBuilder attention(String layerPattern, ComponentChoice<AttentionProcessor> processor) {
        Map<Pattern, ComponentChoice<AttentionProcessor>> reordered = new LinkedHashMap<>();
        reordered.put(Pattern.compile(layerPattern), processor);
        reordered.putAll(attention);
        attention.clear();
        attention.putAll(reordered);
        return this;
    }

    /**
     * Chooses the registered attention processor {@code id} for the layers where the recipe's subjects act, in place
     * of the recipe's own (layers chosen by {@link #attention(String, String)} keep theirs).
     */
    PipelineBuilder subjectAttention(String id) {
        subjectAttention = ComponentChoice.byId(id);
        return this;
    }

    /** As {@link #subjectAttention(String)} with an instance, which the pipeline does not close. */
    PipelineBuilder subjectAttention(AttentionProcessor processor) {
        subjectAttention = ComponentChoice.instance(processor);
        return this;
    }

    /** Serves these control types too (their ControlNets come from {@code controlnet.<type>} or a plugin). */
    PipelineBuilder controlTypes(Collection<String> types) {
        types.forEach(t -> controlTypes.add(checkType(t)));
        return this;
    }

    /** Uses an instance as the ControlNet of its type; it is not closed by the pipeline. */
    PipelineBuilder conditioner(Conditioner conditioner) {
        conditioners.put(checkType(conditioner.type()), conditioner);
        return this;
    }

    /** Uses an instance as the preprocessor of its type; it is not closed by the pipeline. */
    PipelineBuilder preprocessor(ConditionPreprocessor preprocessor) {
        preprocessors.put(checkType(preprocessor.type()), preprocessor);
        return this;
    }

    /** What the ControlNets cross-attend to when a control does not choose (default text-only). */
    PipelineBuilder controlNetContext(ControlNetContext context) {
        controlNetContext = Objects.requireNonNull(context, "context");
        return this;
    }

    /**
     * Whether the text encoder, image encoder and resampler the builder creates are created anew for each
     * generation and closed once it has encoded (default false: they are held for the pipeline's life). Releasing
     * them keeps their weights from being resident beside the UNet's activations, one encoder at a time, at the
     * cost of loading them for every generation; instances given with {@link #set(ComponentKind, Object)} are always
     * held.
     */
    PipelineBuilder releaseEncoders(boolean release) {
        releaseEncoders = release;
        return this;
    }

    /**
     * Whether the denoising model the builder creates is created when a generation starts denoising and closed
     * before it decodes (default false: held for the pipeline's life). Its weights are then never resident beside
     * the encoders or the decoder's activations, at the cost of loading it for every generation: meant for processes
     * that run one generation. Its attention processors are created with the first one and held; a denoiser given
     * with {@link #set(ComponentKind, Object)} is always held.
     */
    PipelineBuilder releaseDenoiser(boolean release) {
        releaseDenoiser = release;
        return this;
    }

    /** Applies a LoRA to the models it adapts when they are loaded; several LoRAs add up. */
    PipelineBuilder lora(Lora lora) {
        loras.add(Objects.requireNonNull(lora, "lora"));
        return this;
    }

    /**
     * Whether LoRA modules that name no layer of the pipeline's models are left out (default false: the build is
     * refused, listing them).
     */
    PipelineBuilder ignoreUnmatchedLoraModules(boolean ignore) {
        ignoreUnmatchedLoraModules = ignore;
        return this;
    }

    /** Builds a pipeline without image encoder, resampler and the recipe's subject attention: text-to-image. */
    PipelineBuilder withoutSubjects() {
        subjects = false;
        return this;
    }

    /**
     * Checks that the chosen components fit together, reading their configuration files only: every size one
     * registered component expects (text width, pooled width, token counts, latent and control channels, ...) must
     * equal what the others provide. Components given as instances, and factories that declare no
     * {@link Dimensions}, are not checked. Then every LoRA module must name a layer of the models, from the tensor
     * names and shapes of the LoRAs and the checkpoints.
     *
     * @throws ConfigurationException listing every mismatch (both components, file and key, both values) or
     *     unreadable configuration; naming a LoRA and its modules that name no layer or do not fit it, or that
     *     disagree on their rank
     * @throws dev.montage.api.PluginException naming a component id that no installed plugin provides
     */
    void validate() {
        try (FolderComponentContext context = context()) {
            validate(context);
        }
    }

    /**
     * Validates the assembly ({@link #validate()}), then creates the components and assembles the pipeline. The
     * default scheduler is created here; the other registered ones when a request first names them.
     *
     * @throws ConfigurationException naming a mismatch, a model path or weight, or a component that cannot be
     *     created from its model files
     * @throws dev.montage.api.PluginException naming a component id that no installed plugin provides
     */
    AssembledPipeline build() {
        FolderComponentContext context = context();
        List<Object> created = new ArrayList<>();
        try {
            validate(context);
            OnDemand<TextEncoder> text = encoder(ComponentKind.TEXT_ENCODER, TextEncoder.class, context, created);
            OnDemand<ImageEncoder> image = subjects ? encoder(ComponentKind.IMAGE_ENCODER, ImageEncoder.class,
                    context, created) : null;
            OnDemand<SubjectResampler> resampler = subjects ? encoder(ComponentKind.SUBJECT_RESAMPLER,
                    SubjectResampler.class, context, created) : null;
            LayerProcessors processors = new LayerProcessors(context);
            created.add(processors);
            OnDemand<DenoisingModel> unet = denoiser(context, processors, created);
            LatentDecoder vae = component(ComponentKind.LATENT_DECODER, LatentDecoder.class, context, created);
            Map<String, String> controlDescription = new LinkedHashMap<>();
            ControlNets controls = controlNets(context, created, controlDescription);
            Schedulers schedulers = schedulers(context);
            created.add(schedulers);
            Map<String, String> description = new LinkedHashMap<>();
            paths.base().ifPresent(b -> description.put("model", b.toString()));
            paths.variant().ifPresent(v -> description.put("model.variant", v));
            paths.paths().forEach((key, path) -> {
                if (!key.startsWith(ModelPaths.CONTROLNET_KEY_PREFIX)) {
                    description.put("model." + key, path.toString());
                }
            });
            Set<ComponentKind> slots = EnumSet.copyOf(Recipe.SLOTS);
            slots.addAll(ids.keySet());
            slots.forEach(k -> description.put("component." + k.name().toLowerCase(Locale.ROOT),
                    instances.containsKey(k) ? instances.get(k).getClass().getName() : id(k)));
            description.putAll(controlDescription);
            // the options change what the components compute, so a record names them beside the components
            options.forEach((kind, given) -> new TreeMap<>(given).forEach((key, value) ->
                    description.put(SlotOptions.key(kind) + "." + key, value)));
            description.put("engine", engine.describe());
            description.putAll(Lora.describe(loras));
            Pipeline pipeline = new Pipeline(text, image, resampler, unet, schedulers,
                    id(ComponentKind.SCHEDULER), vae, controls, engine.manager(), engine.kernels(),
                    engine.computeDType(), description, context::checkWeights, new Pipeline.DenoiserInputs(
                            denoiserProvides(context, Dimensions.GUIDANCE_EMBEDDING),
                            denoiserProvides(context, Dimensions.MASKED_IMAGE_CHANNELS)), requestChecks(context));
            // a default scheduler that cannot be created fails the assembly, not the first generation
            schedulers.get(id(ComponentKind.SCHEDULER));
            context.loadFinished();
            return new AssembledPipeline(pipeline, context, created, loadTimes,
                    more -> variant(pipeline, processors, more));
        } catch (RuntimeException e) {
            AssembledPipeline.closeAll(created, context);
            throw e;
        }
    }

    /**
     * A pipeline that shares the components of {@code base} except those that LoRAs adapt: the text encoder and the
     * denoiser are created afresh, with this builder's LoRAs and {@code more} fused into their weights, where any of
     * them adapts their models. The base's weights are never changed, so it generates as it did before.
     *
     * @throws ConfigurationException as LoRAs given to the builder are refused, or when a LoRA would adapt a
     *     component given as an instance
     */
    private AssembledPipeline variant(Pipeline base, LayerProcessors processors, List<Lora> more) {
        List<Lora> all = new ArrayList<>(loras);
        all.addAll(more);
        FolderComponentContext context = context();
        List<Object> created = new ArrayList<>();
        try {
            Map<String, Map<String, List<LoraWeights.Applied>>> applied = all.isEmpty() ? Map.of()
                    : new LoraBinding(loraTargets(), context).bind(all, context, ignoreUnmatchedLoraModules);
            context.applyLoras(applied);
            Set<ComponentKind> adapted = EnumSet.noneOf(ComponentKind.class);
            loraTargetsByKind().forEach((kind, target) -> {
                if (target.loraPrefixes().keySet().stream().anyMatch(applied::containsKey)) {
                    adapted.add(kind);
                }
            });
            OnDemand<TextEncoder> text = adapted.contains(ComponentKind.TEXT_ENCODER)
                    ? encoder(ComponentKind.TEXT_ENCODER, TextEncoder.class, context, created) : null;
            OnDemand<DenoisingModel> unet = adapted.contains(ComponentKind.DENOISING_MODEL)
                    ? denoiser(context, processors, created) : null;
            context.loadFinished();
            Pipeline variant = base.withModels(text, unet, Lora.describe(all), context::checkWeights);
            return new AssembledPipeline(variant, context, created, loadTimes, null);
        } catch (RuntimeException e) {
            AssembledPipeline.closeAll(created, context);
            throw e;
        }
    }

    private void validate(FolderComponentContext context) {
        SlotOptions.verify(registry, options, this::optionReceivers);
        AssemblyCheck check = new AssemblyCheck();
        createdModels().forEach((kind, id) -> check.add(ComponentRegistry.describe(kind, id),
                () -> registry.factory(kind, id, Object.class).dimensions(contextFor(kind, id, context))));
        List<String> registeredProcessors = registry.ids(ComponentKind.ATTENTION_PROCESSOR);
        layerProcessors().values().stream().flatMap(c -> c.registeredId().stream()).distinct()
                .filter(registeredProcessors::contains)
                .forEach(id -> check.add(ComponentRegistry.describe(ComponentKind.ATTENTION_PROCESSOR, id),
                        () -> registry.factory(ComponentKind.ATTENTION_PROCESSOR, id, Object.class)
                                .dimensions(contextFor(ComponentKind.ATTENTION_PROCESSOR, id, context))));
        List<String> registeredNetworks = registry.ids(ComponentKind.CONDITIONER);
        for (String type : controlTypesServed()) {
            if (!conditioners.containsKey(type)) {
                String id = conditionerId(type, registeredNetworks);
                check.add("ControlNet '" + id + "' of control type '" + type + "'",
                        () -> registry.factory(ComponentKind.CONDITIONER, id, Object.class)
                                .dimensions(context.withOptions(Map.of(CONTROL_TYPE_OPTION, type))));
            }
        }
        check.add("Montage (RGB control images)", () -> Dimensions.builder()
                .provides(Dimensions.CONTROL_CHANNELS, CONTROL_IMAGE_CHANNELS, "control images are RGB").build());
        check.verify();
        if (!loras.isEmpty()) {
            context.applyLoras(new LoraBinding(loraTargets(), context).bind(loras, context,
                    ignoreUnmatchedLoraModules));
        }
    }

    /**
     * The components the pipeline creates whose weights LoRAs may adapt (LoRAs train the text encoders and the
     * denoiser), with the model files each declares.
     */
    private Map<LoraTarget, List<ModelFile>> loraTargets() {
        Map<LoraTarget, List<ModelFile>> targets = new LinkedHashMap<>();
        loraTargetsByKind().forEach((kind, target) -> targets.put(target, registry.factory(kind, id(kind),
                Object.class).modelFiles()));
        return targets;
    }

    /** The factories of the components the pipeline creates whose weights LoRAs may adapt, by slot. */
    private Map<ComponentKind, LoraTarget> loraTargetsByKind() {
        Map<ComponentKind, LoraTarget> targets = new EnumMap<>(ComponentKind.class);
        for (ComponentKind kind : List.of(ComponentKind.TEXT_ENCODER, ComponentKind.DENOISING_MODEL)) {
            if (!instances.containsKey(kind)
                    && registry.factory(kind, id(kind), Object.class) instanceof LoraTarget target) {
                targets.put(kind, target);
            }
        }
        return targets;
    }

    /** The registered components that receive a slot's options: every attention processor, every scheduler. */
    private Collection<String> optionReceivers(ComponentKind kind) {
        return switch (kind) {
            case ATTENTION_PROCESSOR -> layerProcessors().values().stream().flatMap(c -> c.registeredId().stream())
                    .distinct().toList();
            case SCHEDULER -> registry.ids(ComponentKind.SCHEDULER);
            default -> instances.containsKey(kind) ? List.of() : Optional.ofNullable(id(kind)).stream().toList();
        };
    }

    /**
     * What the created components' factories refuse in a request ({@link RequestCheck}), each with its slot's
     * options: all their problems, in slot order.
     */
    private Function<GenerationRequest, List<FieldError>> requestChecks(FolderComponentContext context) {
        List<Function<GenerationRequest, List<FieldError>>> checks = new ArrayList<>();
        createdModels().forEach((kind, id) -> {
            if (registry.factory(kind, id, Object.class) instanceof RequestCheck check) {
                Options slotOptions = contextFor(kind, id, context).options();
                checks.add(request -> check.problems(request, slotOptions));
            }
        });
        return request -> checks.stream().flatMap(c -> c.apply(request).stream()).toList();
    }

    /**
     * The model slots whose components the pipeline creates from registered factories, with their ids, in slot order:
     * the image encoder and resampler only where it takes subjects, none given as an instance.
     */
    private Map<ComponentKind, String> createdModels() {
        Map<ComponentKind, String> created = new LinkedHashMap<>();
        for (ComponentKind kind : List.of(ComponentKind.TEXT_ENCODER, ComponentKind.IMAGE_ENCODER,
                ComponentKind.SUBJECT_RESAMPLER, ComponentKind.DENOISING_MODEL, ComponentKind.LATENT_DECODER)) {
            boolean used = subjects || (kind != ComponentKind.IMAGE_ENCODER && kind != ComponentKind.SUBJECT_RESAMPLER);
            if (used && !instances.containsKey(kind)) {
                created.put(kind, id(kind));
            }
        }
        return created;
    }

    /**
     * A size the denoiser's factory provides of what it takes besides the latents
     * ({@link Dimensions#GUIDANCE_EMBEDDING}, {@link Dimensions#MASKED_IMAGE_CHANNELS}); 0 for one that provides none
     * or was given as an instance.
     */
    private int denoiserProvides(FolderComponentContext context, String name) {
        String id = createdModels().get(ComponentKind.DENOISING_MODEL);
        if (id == null) {
            return 0;
        }
        return registry.factory(ComponentKind.DENOISING_MODEL, id, Object.class)
                .dimensions(contextFor(ComponentKind.DENOISING_MODEL, id, context)).provided().stream()
                .filter(v -> v.name().equals(name)).mapToInt(Dimensions.Value::value).findFirst().orElse(0);
    }

    /** Every registered scheduler, created on first use, and the instances given. */
    private Schedulers schedulers(FolderComponentContext context) {
        Map<String, Schedulers.Lazy> lazy = new LinkedHashMap<>();
        for (String id : registry.ids(ComponentKind.SCHEDULER)) {
            ComponentFactory<Scheduler> factory = registry.factory(ComponentKind.SCHEDULER, id, Scheduler.class);
            lazy.put(id, new Schedulers.Lazy(registry.source(ComponentKind.SCHEDULER, id), factory.options(),
                    () -> factory.create(contextFor(ComponentKind.SCHEDULER, id, context))));
        }
        return new Schedulers(extraSchedulers, lazy);
    }

    /** The control types served: named, configured ({@code controlnet.<type>}) or given a conditioner instance. */
    private Set<String> controlTypesServed() {
        Set<String> types = new TreeSet<>(controlTypes);
        for (String key : paths.paths().keySet()) {
            if (key.startsWith(ModelPaths.CONTROLNET_KEY_PREFIX)) {
                types.add(checkType(key.substring(ModelPaths.CONTROLNET_KEY_PREFIX.length())));
            }
        }
        types.addAll(conditioners.keySet());
        return types;
    }

    /** The registered conditioner of a type: the condition plugin's own, else the configured or default one. */
    private String conditionerId(String type, List<String> registeredNetworks) {
        return registeredNetworks.contains(type) ? type
                : ids.getOrDefault(ComponentKind.CONDITIONER, recipe().conditioner());
    }

    /**
     * The ControlNet and preprocessor of every control type served.
     *
     * @param description receives, per type, the component that serves it and the folder it was given
     */
    private ControlNets controlNets(FolderComponentContext context, List<Object> created,
            Map<String, String> description) {
        Set<String> types = controlTypesServed();
        Map<String, Conditioner> networks = new LinkedHashMap<>();
        Map<String, ConditionPreprocessor> preprocessorsByType = new LinkedHashMap<>();
        List<String> registeredNetworks = registry.ids(ComponentKind.CONDITIONER);
        List<String> registeredPreprocessors = registry.ids(ComponentKind.CONDITION_PREPROCESSOR);
        for (String type : types) {
            Conditioner network = conditioners.get(type);
            String source;
            if (network == null) {
                source = conditionerId(type, registeredNetworks);
                String name = "ControlNet '" + source + "' of control type '" + type + "'";
                network = create(registry.factory(ComponentKind.CONDITIONER, source, Conditioner.class), name,
                        context.forComponent(name, Map.of(CONTROL_TYPE_OPTION, type)));
                created.add(network);
                if (!type.equals(network.type())) {
                    throw new IllegalStateException("conditioner '" + source + "' built for control type '" + type
                            + "' serves '" + network.type() + "'");
                }
            } else {
                source = network.getClass().getName();
            }
            networks.put(type, network);
            description.put("component.conditioner." + type, source);
            Path folder = paths.paths().get(ModelPaths.CONTROLNET_KEY_PREFIX + type);
            if (folder != null) {
                description.put(ModelPaths.CONTROLNET_KEY_PREFIX + type, folder.toString());
            }
            ConditionPreprocessor preprocessor = preprocessors.get(type);
            if (preprocessor == null && registeredPreprocessors.contains(type)) {
                String name = ComponentRegistry.describe(ComponentKind.CONDITION_PREPROCESSOR, type);
                preprocessor = create(registry.factory(ComponentKind.CONDITION_PREPROCESSOR, type,
                        ConditionPreprocessor.class), name, context.forComponent(name, Map.of()));
                created.add(preprocessor);
            }
            if (preprocessor != null) {
                preprocessorsByType.put(type, preprocessor);
            }
        }
        Set<String> installed = new TreeSet<>(registeredPreprocessors);
        installed.addAll(preprocessors.keySet());
        return new ControlNets(networks, preprocessorsByType, installed, controlNetContext);
    }

    /**
     * Checks the name of a control type, and returns it.
     *
     * @throws IllegalArgumentException naming it when it is not lower-case letters, digits, '-' and '_'
     */
    static String checkType(String type) {
        if (type == null || !type.matches("[a-z0-9][a-z0-9_-]*")) {
            throw new IllegalArgumentException("a control type is lower-case letters, digits, '-' and '_', e.g. "
                    + "canny; got '" + type + "'");
        }
        return type;
    }

    private <T> T component(ComponentKind kind, Class<T> type, FolderComponentContext context, List<Object> created) {
        Object given = instances.get(kind);
        if (given != null) {
            return type.cast(given);
        }
        T c = create(registry.factory(kind, id(kind), type), ComponentRegistry.describe(kind, id(kind)),
                contextFor(kind, id(kind), context));
        created.add(c);
        return c;
    }

    /**
     * Creates a registered component. What its plugin throws on model files that do not fit it (a tensor's shape, a
     * missing tensor, a configuration value, a malformed checkpoint) becomes a {@link ConfigurationException} naming
     * the component and the model keys it reads, with the plugin's or the weights' error as the cause: the remedy is
     * in the configuration, and that error alone does not say which component or model it came from. A cancel of the
     * generation that loads a released component passes as it is.
     */
    private <T> T create(ComponentFactory<T> factory, String component, ComponentContext context) {
        long start = System.nanoTime();
        try {
            T created = factory.create(context);
            loadTimes.put(component, Duration.ofNanos(System.nanoTime() - start));
            return created;
        } catch (ConfigurationException | IllegalArgumentException | UncheckedIOException e) {
            List<String> keys = factory.modelFiles().stream().map(ModelFile::key).toList();
            throw new ConfigurationException(component + (keys.isEmpty() ? "" : " (models " + String.join(", ", keys)
                    + ")") + " cannot be created: " + e.getMessage(), e);
        }
    }

    /**
     * The denoiser slot, with its attention processors in place: held, or created per generation when it is released
     * and the builder creates it.
     */
    private OnDemand<DenoisingModel> denoiser(FolderComponentContext context, LayerProcessors processors,
            List<Object> created) {
        if (!releaseDenoiser || instances.containsKey(ComponentKind.DENOISING_MODEL)) {
            return OnDemand.held(processors.install(
                    component(ComponentKind.DENOISING_MODEL, DenoisingModel.class, context, created)));
        }
        ComponentFactory<DenoisingModel> factory = registry.factory(ComponentKind.DENOISING_MODEL,
                id(ComponentKind.DENOISING_MODEL), DenoisingModel.class);
        ComponentContext own = contextFor(ComponentKind.DENOISING_MODEL, id(ComponentKind.DENOISING_MODEL), context);
        OnDemand<DenoisingModel> onDemand = OnDemand.released(loading(context, () -> {
            DenoisingModel unet = create(factory, ComponentRegistry.describe(ComponentKind.DENOISING_MODEL,
                    id(ComponentKind.DENOISING_MODEL)), own);
            try {
                return processors.install(unet);
            } catch (RuntimeException e) {
                AssembledPipeline.closeEach(List.of(unet));
                throw e;
            }
        }));
        created.add(onDemand);
        return onDemand;
    }

    /**
     * The attention processors of the denoiser's layers, by the layer patterns that choose them: created with the
     * first denoiser, on the pipeline's own model files, and serving every later one (a released denoiser created
     * again, a LoRA variant's); closed with the pipeline, after the denoisers.
     */
    private final class LayerProcessors implements AutoCloseable {
        private final FolderComponentContext context;
        private final Map<Pattern, ComponentChoice<AttentionProcessor>> byPattern = layerProcessors();
        private final Map<String, AttentionProcessor> byId = new LinkedHashMap<>();
        private final List<Object> created = new ArrayList<>();

        LayerProcessors(FolderComponentContext context) {
            this.context = context;
        }

        /**
         * Gives each attention layer of the denoiser its processor, and returns it; a self-attention layer's is
         * wrapped for the generations that perturb it ({@link PerturbedSelfAttention}).
         */
        synchronized DenoisingModel install(DenoisingModel unet) {
            Map<String, AttentionProcessor> byLayer = new LinkedHashMap<>();
            List<AttentionLayerSpec> layers = unet.attentionLayers();
            for (AttentionLayerSpec layer : layers) {
                AttentionProcessor chosen = processorFor(layer.name(), layers);
                byLayer.put(layer.name(), layer.isCrossAttention() ? chosen : new PerturbedSelfAttention(chosen));
            }
            unet.useAttentionProcessors(byLayer::get);
            return unet;
        }

        /** @param layers the denoising model's attention layers, which the processors bind to */
        private AttentionProcessor processorFor(String layer, List<AttentionLayerSpec> layers) {
            for (Map.Entry<Pattern, ComponentChoice<AttentionProcessor>> e : byPattern.entrySet()) {
                if (e.getKey().matcher(layer).matches()) {
                    return e.getValue().resolve(id -> byId.computeIfAbsent(id, i -> {
                        String name = ComponentRegistry.describe(ComponentKind.ATTENTION_PROCESSOR, i);
                        AttentionProcessor p = create(registry.factory(ComponentKind.ATTENTION_PROCESSOR, i,
                                AttentionProcessor.class), name, context.forAttentionProcessor(name,
                                options.getOrDefault(ComponentKind.ATTENTION_PROCESSOR, Map.of()), layers));
                        created.add(p);
                        return p;
                    }));
                }
            }
            throw new ConfigurationException("no attention processor matches layer '" + layer + "'");
        }

        @Override
        public synchronized void close() {
            AssembledPipeline.closeEach(created);
        }
    }

    /** An encoder slot: held, or created per use when encoders are released and the builder creates it. */
    private <T> OnDemand<T> encoder(ComponentKind kind, Class<T> type, FolderComponentContext context,
            List<Object> created) {
        if (!releaseEncoders || instances.containsKey(kind)) {
            return OnDemand.held(component(kind, type, context, created));
        }
        // the factory is looked up now, so that a missing id fails the build rather than the first generation
        ComponentFactory<T> factory = registry.factory(kind, id(kind), type);
        ComponentContext own = contextFor(kind, id(kind), context);
        OnDemand<T> onDemand = OnDemand.released(loading(context,
                () -> create(factory, ComponentRegistry.describe(kind, id(kind)), own)));
        created.add(onDemand);
        return onDemand;
    }

    /** A creation of a released component, which frees the staging buffer once the component has its weights. */
    private static <T> Supplier<T> loading(FolderComponentContext context, Supplier<T> create) {
        return () -> {
            try {
                return create.get();
            } finally {
                context.loadFinished();
            }
        };
    }

    /** A context on the model paths, where each key the installed components declare has its default. */
    private FolderComponentContext context() {
        return new FolderComponentContext(engine, paths.withDefaults(registry.modelFiles().values()), Map.of(),
                registry.singleFileLayouts(), registry::published);
    }

    /** The component id of a slot: the chosen one, else the recipe's. */
    private String id(ComponentKind kind) {
        String chosen = ids.get(kind);
        return chosen != null ? chosen : recipe().components().get(kind);
    }

    /**
     * The recipe named, else the only one installed.
     *
     * @throws ConfigurationException naming the installed recipes when none is named and there is not exactly one,
     *     or when the named one is not installed (with the closest id)
     */
    private Recipe recipe() {
        if (recipe == null) {
            String id = recipeId;
            if (id == null) {
                List<String> installed = registry.ids(ComponentKind.RECIPE);
                if (installed.size() != 1) {
                    throw new ConfigurationException((installed.isEmpty() ? "no recipe is installed"
                            : "recipes " + installed + " are installed") + "; name the recipe whose components "
                            + "the pipeline takes (components.recipe), or choose every component");
                }
                id = installed.get(0);
            }
            recipe = registry.factory(ComponentKind.RECIPE, id, Recipe.class).create(null);
        }
        return recipe;
    }

    /**
     * The attention processor of each layer pattern in the order they are tried: the chosen ones, then the recipe's
     * subject layers (when the pipeline takes subjects), then the recipe's others.
     */
    private Map<Pattern, ComponentChoice<AttentionProcessor>> layerProcessors() {
        Map<Pattern, ComponentChoice<AttentionProcessor>> all = new LinkedHashMap<>(attention);
        if (subjects) {
            recipe().subjectAttention().forEach((pattern, id) -> all.putIfAbsent(Pattern.compile(pattern),
                    subjectAttention != null ? subjectAttention : ComponentChoice.byId(id)));
        }
        recipe().attention().forEach((pattern, id) -> all.putIfAbsent(Pattern.compile(pattern),
                ComponentChoice.byId(id)));
        return all;
    }

    /** The context of one component: its kind's options and a weights manager of its own. */
    private ComponentContext contextFor(ComponentKind kind, String id, FolderComponentContext context) {
        return context.forComponent(ComponentRegistry.describe(kind, id), options.getOrDefault(kind, Map.of()));
    }
}
