package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Recipe;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestFactory;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What profile checks look at, without real models: a registry of factories under the real ids, declaring the model
 * files of the fake folder (they cannot create anything), a recipe of them, and model folders laid out like SDXL +
 * MS-Diffusion with weight files that hold no tensor.
 */
final class FakeModels {
    private FakeModels() {
    }

    static final ModelFile ADAPTER = ModelFile.file("ms_adapter", "ms_adapter.bin", "the adapter checkpoint");
    private static final ModelFile UNET = ModelFile.folder("unet", "unet", "a UNet folder");
    /** A scheduler's options, as the built-in ones declare them. */
    static final List<OptionSpec<?>> SCHEDULER_OPTIONS = List.of(OptionSpec.choice("timestep_spacing",
            List.of("linspace", "leading", "trailing"), "spacing"), OptionSpec.integer("steps_offset", 0, 1000,
            "offset"));
    /** The decoder's options, as the built-in one declares them. */
    static final List<OptionSpec<?>> DECODER_OPTIONS = List.of(OptionSpec.choice("upcast",
            List.of("auto", "always", "never"), "float32").withDefault("auto"),
            OptionSpec.bool("slicing", "one at a time").withDefault(false));

    /**
     * The recipe's component ids plus a second scheduler and processor, declaring model files and options as the
     * built-in ones.
     */
    static ComponentRegistry registry() {
        ComponentRegistry registry = new ComponentRegistry();
        Map<ComponentKind, String> ids = Map.of(ComponentKind.TEXT_ENCODER, "sdxl-clip", ComponentKind.IMAGE_ENCODER,
                "clip-vision", ComponentKind.SUBJECT_RESAMPLER, "ms-diffusion", ComponentKind.DENOISING_MODEL,
                "sdxl-unet", ComponentKind.LATENT_DECODER, "sdxl-vae", ComponentKind.SCHEDULER, "euler");
        Map<String, List<ModelFile>> files = Map.of(
                "sdxl-clip", List.of(ModelFile.folder("tokenizer", "tokenizer", "a tokenizer folder")),
                "clip-vision", List.of(ModelFile.folder("image_encoder", "image_encoder", "an image encoder folder")),
                "ms-diffusion", List.of(ADAPTER, ModelFile.file("resampler_config", "resampler_config.json",
                        "the resampler settings (JSON)").optional()),
                "sdxl-unet", List.of(UNET));
        ids.forEach((k, id) -> {
            if (k != ComponentKind.SCHEDULER) {
                registry.register(factory(k, id, files.getOrDefault(id, List.of()),
                        k == ComponentKind.LATENT_DECODER ? DECODER_OPTIONS : List.of()), "test");
            }
        });
        for (String id : new String[] {"euler", "ddim"}) {
            registry.register(factory(ComponentKind.SCHEDULER, id, List.of(ModelFile.folder("scheduler", "scheduler",
                    "a scheduler folder")), SCHEDULER_OPTIONS), "test");
        }
        registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, "ms-diffusion", List.of(ADAPTER, UNET),
                List.of()), "test");
        for (String id : new String[] {"default", "text-only"}) {
            registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, id, List.of(), List.of()), "test");
        }
        Recipe recipe = new Recipe(ids, Map.of(".*", "default"), Map.of(".*\\.attn2", "ms-diffusion"), "none");
        registry.register(TestFactory.of(ComponentKind.RECIPE, "fake", context -> recipe), "test");
        return registry;
    }

    private static ComponentFactory<Object> factory(ComponentKind kind, String id, List<ModelFile> files,
            List<OptionSpec<?>> options) {
        return TestFactory.uncreatable(kind, id).withModelFiles(files).withOptions(options);
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
