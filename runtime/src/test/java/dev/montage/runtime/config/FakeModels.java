package dev.montage.runtime.config;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.OptionSpec;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What profile checks look at, without real models: a registry of factories under the default ids (they cannot
 * create anything) and model folders laid out like SDXL + MS-Diffusion with weight files that hold no tensor.
 */
final class FakeModels {
    private FakeModels() {
    }

    /** A scheduler's options, as the built-in ones declare them. */
    static final List<OptionSpec<?>> SCHEDULER_OPTIONS = List.of(OptionSpec.choice("timestep_spacing",
            List.of("linspace", "leading", "trailing"), "spacing"), OptionSpec.integer("steps_offset", 0, 1000,
            "offset"));
    /** The decoder's options, as the built-in one declares them. */
    static final List<OptionSpec<?>> DECODER_OPTIONS = List.of(OptionSpec.choice("upcast",
            List.of("auto", "always", "never"), "float32").withDefault("auto"),
            OptionSpec.bool("slicing", "one at a time").withDefault(false));
    /** The option of the processors that split their context. */
    static final List<OptionSpec<?>> TEXT_TOKENS = List.of(OptionSpec.integer("text_tokens", 1, 1000, "text")
            .withDefault(77));

    /** The default component ids plus a second scheduler and processor, declaring options as the built-in ones. */
    static ComponentRegistry registry() {
        ComponentRegistry registry = new ComponentRegistry();
        Map.of(ComponentKind.TEXT_ENCODER, "sdxl-clip", ComponentKind.IMAGE_ENCODER, "clip-vision",
                ComponentKind.SUBJECT_RESAMPLER, "ms-diffusion", ComponentKind.DENOISING_MODEL, "sdxl-unet")
                .forEach((k, id) -> registry.register(factory(k, id, List.of()), "test"));
        registry.register(factory(ComponentKind.LATENT_DECODER, "sdxl-vae", DECODER_OPTIONS), "test");
        for (String id : new String[] {"euler", "ddim"}) {
            registry.register(factory(ComponentKind.SCHEDULER, id, SCHEDULER_OPTIONS), "test");
        }
        registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, "default", List.of()), "test");
        for (String id : new String[] {"ms-diffusion", "text-only"}) {
            registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, id, TEXT_TOKENS), "test");
        }
        return registry;
    }

    private static ComponentFactory<Object> factory(ComponentKind kind, String id, List<OptionSpec<?>> options) {
        return new ComponentFactory<>() {
            @Override
            public ComponentKind kind() {
                return kind;
            }

            @Override
            public String id() {
                return id;
            }

            @Override
            public List<OptionSpec<?>> options() {
                return options;
            }

            @Override
            public Object create(ComponentContext context) {
                throw new UnsupportedOperationException("profile tests create no components");
            }
        };
    }

    /** An MS-Diffusion model folder: diffusers index, components with config and (empty) weights, adapter. */
    static Path model(Path folder) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionXLPipeline\", "
                + "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], \"tokenizer\": [\"transformers\", "
                + "\"CLIPTokenizer\"], \"scheduler\": [\"diffusers\", \"EulerDiscreteScheduler\"]}");
        weights(folder.resolve("unet"), "diffusion_pytorch_model.safetensors");
        Files.createDirectories(folder.resolve("tokenizer"));
        Files.createDirectories(folder.resolve("scheduler"));
        weights(folder.resolve("image_encoder"), "model.safetensors");
        TorchCheckpointWriter.write(folder.resolve("ms_adapter.bin"), Map.of());
        return folder;
    }

    /** A component folder with a config and a safetensors file without tensors. */
    static Path weights(Path folder, String file) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), "{}");
        new SafetensorsWriter().write(folder.resolve(file));
        return folder;
    }
}
