package dev.montage.runtime.config;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * What profile checks look at, without real models: a registry of factories under the default ids (they cannot
 * create anything) and model folders laid out like SDXL + MS-Diffusion with weight files that hold no tensor.
 */
final class FakeModels {
    private FakeModels() {
    }

    /** The default component ids plus a second scheduler and processor. */
    static ComponentRegistry registry() {
        ComponentRegistry registry = new ComponentRegistry();
        Map.of(ComponentKind.TEXT_ENCODER, "sdxl-clip", ComponentKind.IMAGE_ENCODER, "clip-vision",
                ComponentKind.SUBJECT_RESAMPLER, "ms-diffusion", ComponentKind.DENOISING_MODEL, "sdxl-unet",
                ComponentKind.LATENT_DECODER, "sdxl-vae").forEach((k, id) -> registry.register(factory(k, id), "test"));
        for (String id : new String[] {"euler", "ddim"}) {
            registry.register(factory(ComponentKind.SCHEDULER, id), "test");
        }
        for (String id : new String[] {"ms-diffusion", "default", "text-only"}) {
            registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, id), "test");
        }
        return registry;
    }

    private static ComponentFactory<Object> factory(ComponentKind kind, String id) {
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
