package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionLayout;
import dev.montage.api.spi.AttentionWeightLayout;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.WeightLayout;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.RandomCheckpoint;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes an MS-Diffusion SDXL model folder with random weights in the real on-disk formats (diffusers folders with
 * safetensors, transformers text and image encoders, {@code ms_adapter.bin} as a torch zip checkpoint, and a
 * {@code controlnet/} folder, the generic ControlNet of any control type), at a named
 * configuration: {@code tiny} (the embedded default) or {@code sdxl} (full size, for benchmarks). The tensors each
 * checkpoint holds come from the components' own {@link WeightLayout}s, so the files match what they load.
 */
final class RandomModel {
    /** Marker file saying the weights are random, so no one mistakes the output for a real model. */
    static final String MARKER = "RANDOM_WEIGHTS.txt";
    /** The model family the random models are of. */
    private static final String RECIPE = "ms-diffusion-sdxl";

    static final List<String> CONFIG_FILES = List.of("model_index.json", "scheduler/scheduler_config.json",
            "text_encoder/config.json", "text_encoder_2/config.json", "unet/config.json", "vae/config.json",
            "image_encoder/config.json", "image_encoder/preprocessor_config.json", "resampler_config.json",
            "controlnet/config.json");
    private static final List<String> FOLDER_KEYS = List.of("text_encoder", "text_encoder_2", "unet", "vae",
            "image_encoder", "controlnet");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private RandomModel() {
    }

    /** The configurations Montage ships. */
    static List<String> configurations() {
        return List.of("tiny", "sdxl");
    }

    /**
     * @param configuration {@code tiny} or {@code sdxl}
     * @param dtype         F32, F16 or BF16 storage
     * @throws IllegalArgumentException naming an unknown configuration
     */
    static void write(Path folder, String configuration, TensorDType dtype, long seed, ComponentRegistry registry)
            throws IOException {
        if (!configurations().contains(configuration)) {
            throw new IllegalArgumentException("unknown model configuration '" + configuration + "', expected one of "
                    + configurations());
        }
        Files.createDirectories(folder);
        List<WeightLayout> layouts = layouts(registry);
        Map<String, Map<String, Object>> values = new LinkedHashMap<>();
        for (String file : CONFIG_FILES) {
            values.put(file, values(configuration, file, registry));
        }
        for (WeightLayout layout : layouts) {
            // e.g. the text encoders write their tokenizer and size their embedding tables to it
            layout.prepareRandomModel(folder, values);
        }
        Map<String, ModelConfig> configs = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, Object>> e : values.entrySet()) {
            String file = e.getKey();
            Path target = folder.resolve(file);
            Files.createDirectories(target.getParent());
            JSON.writeValue(target.toFile(), e.getValue());
            String key = file.endsWith("/config.json") ? file.substring(0, file.indexOf('/'))
                    : file.equals("resampler_config.json") ? "resampler_config" : null;
            if (key != null) {
                configs.put(key, new ModelConfig(target.toString(), e.getValue()));
            }
        }
        Map<String, Map<String, long[]>> shapes = new LinkedHashMap<>();
        for (WeightLayout layout : layouts) {
            add(shapes, layout.weightShapes(configs));
        }
        List<AttentionLayerSpec> attentionLayers = attentionLayers(registry, configs);
        for (AttentionWeightLayout layout : attentionLayouts(registry)) {
            add(shapes, layout.weightShapes(attentionLayers));
        }
        for (String key : FOLDER_KEYS) {
            Map<String, long[]> tensors = shapes.get(key);
            if (tensors == null) {
                throw new IllegalStateException("no installed component declares the weights of '" + key + "'");
            }
            boolean diffusers = configs.get(key).has("_class_name");
            String file = diffusers ? "diffusion_pytorch_model.safetensors" : "model.safetensors";
            RandomCheckpoint.write(folder.resolve(key).resolve(file), tensors, dtype, seed);
        }
        writeAdapter(folder.resolve("ms_adapter.bin"), shapes.get("ms_adapter"), dtype, seed);
        Files.writeString(folder.resolve(MARKER), "This " + configuration + " MS-Diffusion SDXL model has RANDOM "
                + "weights, written by `montage make-random-model`. Its images are noise-like; it exists to run and "
                + "measure the pipeline without downloading real weights.\n");
    }

    private static void add(Map<String, Map<String, long[]>> shapes, Map<String, Map<String, long[]>> more) {
        more.forEach((key, tensors) -> shapes.computeIfAbsent(key, k -> new LinkedHashMap<>()).putAll(tensors));
    }

    private static Recipe recipe(ComponentRegistry registry) {
        return registry.factory(ComponentKind.RECIPE, RECIPE, Recipe.class).create(null);
    }

    /** The layouts of the recipe's components and conditioner. */
    private static List<WeightLayout> layouts(ComponentRegistry registry) {
        Recipe recipe = recipe(registry);
        List<Object> factories = new ArrayList<>();
        recipe.components().forEach((kind, id) -> factories.add(registry.factory(kind, id, Object.class)));
        factories.add(registry.factory(ComponentKind.CONDITIONER, recipe.conditioner(), Object.class));
        return instances(factories, WeightLayout.class);
    }

    /** The layouts of the recipe's attention processors that bring weights per denoiser layer. */
    private static List<AttentionWeightLayout> attentionLayouts(ComponentRegistry registry) {
        Recipe recipe = recipe(registry);
        return instances(Stream.concat(recipe.subjectAttention().values().stream(),
                recipe.attention().values().stream()).distinct()
                .<Object>map(id -> registry.factory(ComponentKind.ATTENTION_PROCESSOR, id, Object.class)).toList(),
                AttentionWeightLayout.class);
    }

    /** The attention layers of the recipe's denoising model under these configurations. */
    private static List<AttentionLayerSpec> attentionLayers(ComponentRegistry registry,
            Map<String, ModelConfig> configs) {
        String id = recipe(registry).components().get(ComponentKind.DENOISING_MODEL);
        if (registry.factory(ComponentKind.DENOISING_MODEL, id, Object.class) instanceof AttentionLayout layout) {
            return layout.attentionLayers(configs);
        }
        throw new IllegalStateException(ComponentRegistry.describe(ComponentKind.DENOISING_MODEL, id)
                + " does not declare its attention layers, so its adapters' weights cannot be laid out");
    }

    private static <T> List<T> instances(List<Object> factories, Class<T> type) {
        return factories.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** {@code ms_adapter.bin}: dotted names nested at their first dot, as MS-Diffusion's checkpoint is. */
    private static void writeAdapter(Path file, Map<String, long[]> tensors, TensorDType dtype, long seed)
            throws IOException {
        if (tensors == null) {
            throw new IllegalStateException("no installed component declares the weights of 'ms_adapter'");
        }
        Map<String, Object> root = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : tensors.entrySet()) {
            String name = e.getKey();
            int dot = name.indexOf('.');
            var tensor = RandomCheckpoint.tensor(name, e.getValue(), dtype, seed);
            if (dot < 0) {
                root.put(name, new TorchCheckpointWriter.Parameter(tensor));
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Object> group = (Map<String, Object>) root.computeIfAbsent(name.substring(0, dot),
                        k -> new LinkedHashMap<String, Object>());
                group.put(name.substring(dot + 1), tensor);
            }
        }
        TorchCheckpointWriter.write(file, root);
    }

    /**
     * The values of a configuration file of a model configuration: for {@code sdxl} the published one of the
     * installed component that reads its model key (e.g. {@code unet/config.json}), else the distribution's own.
     */
    static Map<String, Object> values(String configuration, String file, ComponentRegistry registry) {
        int slash = file.indexOf('/');
        if (configuration.equals("sdxl") && slash > 0) {
            ModelConfig published = registry.published(file.substring(0, slash)).get(file.substring(slash + 1));
            if (published != null) {
                return new LinkedHashMap<>(published.asMap());
            }
        }
        return resource(configuration, file);
    }

    /** The values of a configuration file the distribution ships, e.g. {@code model_index.json} of {@code sdxl}. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> resource(String configuration, String file) {
        String path = "models/" + configuration + "/" + file;
        try (InputStream in = RandomModel.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("the distribution lacks its resource " + path);
            }
            return new LinkedHashMap<>(JSON.readValue(in, Map.class));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + path, e);
        }
    }

    /** Parses F32/F16/BF16 (or float32, float16, bfloat16). */
    static TensorDType storage(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "fp32" -> TensorDType.F32;
            case "f16", "float16", "fp16" -> TensorDType.F16;
            case "bf16", "bfloat16" -> TensorDType.BF16;
            default -> throw new IllegalArgumentException("weights dtype '" + name + "' is not one of f32, f16, bf16");
        };
    }
}
