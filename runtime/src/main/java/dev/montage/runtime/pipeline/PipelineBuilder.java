package dev.montage.runtime.pipeline;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.registry.ComponentRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Assembles a {@link Pipeline} from registered components (by id) or instances, on one engine and one set of
 * model paths. Components are created in dependency order and everything created is released by
 * {@link AssembledPipeline#close()}, also when assembly fails half way.
 */
public final class PipelineBuilder {
    /** The component ids of an MS-Diffusion SDXL pipeline. */
    public static final Map<ComponentKind, String> DEFAULT_IDS = Map.of(
            ComponentKind.TEXT_ENCODER, "sdxl-clip",
            ComponentKind.IMAGE_ENCODER, "clip-vision",
            ComponentKind.SUBJECT_RESAMPLER, "ms-diffusion",
            ComponentKind.DENOISING_MODEL, "sdxl-unet",
            ComponentKind.LATENT_DECODER, "sdxl-vae",
            ComponentKind.SCHEDULER, "euler");
    /** Layer-name pattern of every cross-attention layer, where MS-Diffusion acts. */
    public static final String CROSS_ATTENTION_LAYERS = ".*\\.attn2";
    /** Layer-name pattern of every attention layer. */
    public static final String ALL_LAYERS = ".*";
    /** The id under which {@link #set(ComponentKind, Object)} adds a scheduler instance. */
    public static final String INSTANCE_SCHEDULER_ID = "custom";

    private final MontageEngine engine;
    private final ComponentRegistry registry;
    private final ModelPaths paths;
    private final Map<ComponentKind, String> ids = new EnumMap<>(DEFAULT_IDS);
    private final Map<ComponentKind, Object> instances = new EnumMap<>(ComponentKind.class);
    private final Map<Pattern, Object> attention = new LinkedHashMap<>();
    private final Map<String, Scheduler> extraSchedulers = new LinkedHashMap<>();
    private final Map<ComponentKind, Map<String, String>> options = new EnumMap<>(ComponentKind.class);
    private boolean subjects = true;

    public PipelineBuilder(MontageEngine engine, ComponentRegistry registry, ModelPaths paths) {
        this.engine = engine;
        this.registry = registry;
        this.paths = paths;
        // MS-Diffusion replaces every cross-attention; self-attention stays plain
        attention.put(Pattern.compile(CROSS_ATTENTION_LAYERS), "ms-diffusion");
        attention.put(Pattern.compile(ALL_LAYERS), "default");
    }

    /** Uses the registered component {@code id} for a slot. */
    public PipelineBuilder set(ComponentKind kind, String id) {
        ids.put(kind, id);
        instances.remove(kind);
        return this;
    }

    /**
     * Uses an instance for a slot (it must implement {@code kind.type()}); it is not closed by the pipeline. A
     * scheduler instance becomes the default scheduler, under the id {@value #INSTANCE_SCHEDULER_ID}; an attention
     * processor instance serves every cross-attention layer.
     *
     * @throws IllegalArgumentException for a condition preprocessor or conditioner, which serve a control type
     *                                  rather than a slot
     */
    public PipelineBuilder set(ComponentKind kind, Object component) {
        if (!kind.type().isInstance(component)) {
            throw new IllegalArgumentException(component.getClass().getName() + " is not a " + kind.type().getName());
        }
        switch (kind) {
            case SCHEDULER -> scheduler(INSTANCE_SCHEDULER_ID, (Scheduler) component)
                    .set(ComponentKind.SCHEDULER, INSTANCE_SCHEDULER_ID);
            case ATTENTION_PROCESSOR -> attention(CROSS_ATTENTION_LAYERS, component);
            case CONDITIONER, CONDITION_PREPROCESSOR -> throw new IllegalArgumentException("a " + kind
                    + " serves a control type, not a slot of the pipeline");
            default -> instances.put(kind, component);
        }
        return this;
    }

    /** Options handed to the components of a kind that the builder creates (replacing earlier ones). */
    public PipelineBuilder options(ComponentKind kind, Map<String, String> componentOptions) {
        options.put(kind, Map.copyOf(componentOptions));
        return this;
    }

    /** Adds a scheduler instance under an id (registered schedulers are always available). */
    public PipelineBuilder scheduler(String id, Scheduler scheduler) {
        extraSchedulers.put(id, scheduler);
        return this;
    }

    /**
     * Chooses the attention processor of the layers whose dotted name fully matches {@code layerPattern}
     * (regular expression); later calls win over earlier ones, and every call over the defaults.
     *
     * @param processor a registered processor id or an {@link AttentionProcessor} instance
     */
    public PipelineBuilder attention(String layerPattern, Object processor) {
        if (!(processor instanceof String) && !(processor instanceof AttentionProcessor)) {
            throw new IllegalArgumentException("an attention processor is an id or an AttentionProcessor, not "
                    + processor.getClass().getName());
        }
        Map<Pattern, Object> reordered = new LinkedHashMap<>();
        reordered.put(Pattern.compile(layerPattern), processor);
        reordered.putAll(attention);
        attention.clear();
        attention.putAll(reordered);
        return this;
    }

    /** Builds a pipeline without image encoder and resampler: plain SDXL text-to-image. */
    public PipelineBuilder withoutSubjects() {
        subjects = false;
        attention.entrySet().removeIf(e -> e.getKey().pattern().equals(CROSS_ATTENTION_LAYERS));
        return this;
    }

    /**
     * Creates the components and assembles the pipeline.
     *
     * @throws IllegalArgumentException naming a missing component id, model path or weight
     */
    public AssembledPipeline build() {
        FolderComponentContext context = new FolderComponentContext(engine, paths, Map.of());
        List<Object> created = new ArrayList<>();
        try {
            TextEncoder text = component(ComponentKind.TEXT_ENCODER, TextEncoder.class, context, created);
            ImageEncoder image = subjects ? component(ComponentKind.IMAGE_ENCODER, ImageEncoder.class, context,
                    created) : null;
            SubjectResampler resampler = subjects ? component(ComponentKind.SUBJECT_RESAMPLER,
                    SubjectResampler.class, context, created) : null;
            DenoisingModel unet = component(ComponentKind.DENOISING_MODEL, DenoisingModel.class, context, created);
            LatentDecoder vae = component(ComponentKind.LATENT_DECODER, LatentDecoder.class, context, created);
            Map<String, AttentionProcessor> processors = new LinkedHashMap<>();
            Map<String, AttentionProcessor> byLayer = new LinkedHashMap<>();
            for (String layer : unet.attentionLayers()) {
                byLayer.put(layer, processorFor(layer, processors, context, created));
            }
            unet.useAttentionProcessors(byLayer::get);
            Map<String, Scheduler> schedulers = new LinkedHashMap<>();
            for (String id : registry.ids(ComponentKind.SCHEDULER)) {
                schedulers.put(id, registry.factory(ComponentKind.SCHEDULER, id, Scheduler.class)
                        .create(contextFor(ComponentKind.SCHEDULER, context)));
            }
            schedulers.putAll(extraSchedulers);
            Map<String, String> description = new LinkedHashMap<>();
            paths.base().ifPresent(b -> description.put("model", b.toString()));
            ids.forEach((k, v) -> description.put("component." + k.name().toLowerCase(java.util.Locale.ROOT),
                    instances.containsKey(k) ? instances.get(k).getClass().getName() : v));
            description.put("engine", engine.describe());
            Pipeline pipeline = new Pipeline(text, image, resampler, unet, schedulers,
                    ids.get(ComponentKind.SCHEDULER), vae, engine.manager(), engine.kernels(),
                    engine.computeDType(), description);
            return new AssembledPipeline(pipeline, context, created);
        } catch (RuntimeException e) {
            AssembledPipeline.closeAll(created, context);
            throw e;
        }
    }

    private AttentionProcessor processorFor(String layer, Map<String, AttentionProcessor> byId,
            FolderComponentContext context, List<Object> created) {
        for (Map.Entry<Pattern, Object> e : attention.entrySet()) {
            if (e.getKey().matcher(layer).matches()) {
                if (e.getValue() instanceof AttentionProcessor p) {
                    return p;
                }
                String id = (String) e.getValue();
                return byId.computeIfAbsent(id, i -> {
                    AttentionProcessor p = registry.factory(ComponentKind.ATTENTION_PROCESSOR, i,
                            AttentionProcessor.class).create(contextFor(ComponentKind.ATTENTION_PROCESSOR, context));
                    created.add(p);
                    return p;
                });
            }
        }
        throw new IllegalArgumentException("no attention processor matches layer '" + layer + "'");
    }

    private <T> T component(ComponentKind kind, Class<T> type, FolderComponentContext context, List<Object> created) {
        Object given = instances.get(kind);
        if (given != null) {
            return type.cast(given);
        }
        T c = registry.factory(kind, ids.get(kind), type).create(contextFor(kind, context));
        created.add(c);
        return c;
    }

    private ComponentContext contextFor(ComponentKind kind, FolderComponentContext context) {
        Map<String, String> own = options.get(kind);
        return own == null ? context : context.withOptions(own);
    }
}
