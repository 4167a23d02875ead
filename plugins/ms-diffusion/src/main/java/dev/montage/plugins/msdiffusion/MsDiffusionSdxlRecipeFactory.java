package dev.montage.plugins.msdiffusion;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.RandomModels;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.Suggestions;
import java.net.URL;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion on SDXL: the two CLIP text encoders, the CLIP-G vision encoder, the grounding resampler, the SDXL UNet
 * with multi-subject attention on every cross-attention layer and plain attention elsewhere, the SDXL VAE, Euler,
 * and the SDXL ControlNet for control types that bring no network of their own.
 *
 * <p>Its random models are {@code tiny} (the embedded default model: every width a few channels, runs in seconds on
 * a CPU) and {@code sdxl} (the published sizes, for benchmarks), each a diffusers SDXL folder with the image encoder,
 * {@code ms_adapter.bin} and a generic {@code controlnet} folder.
 */
public final class MsDiffusionSdxlRecipeFactory implements ComponentFactory<Recipe>, RandomModels {
    /** Every cross-attention layer of the UNet (diffusers names them {@code attn2}), where the subjects act. */
    static final String CROSS_ATTENTION_LAYERS = ".*\\.attn2";

    private static final Recipe RECIPE = new Recipe(Map.of(
            ComponentKind.TEXT_ENCODER, "sdxl-clip",
            ComponentKind.IMAGE_ENCODER, "clip-vision",
            ComponentKind.SUBJECT_RESAMPLER, "ms-diffusion",
            ComponentKind.DENOISING_MODEL, "sdxl-unet",
            ComponentKind.LATENT_DECODER, "sdxl-vae",
            ComponentKind.SCHEDULER, "euler"),
            Map.of(".*", "default"),
            Map.of(CROSS_ATTENTION_LAYERS, "ms-diffusion"),
            "sdxl-controlnet");

    private static final List<String> CONFIGURATION_FILES = List.of("model_index.json",
            "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder_2/config.json",
            "unet/config.json", "vae/config.json", "image_encoder/config.json",
            "image_encoder/preprocessor_config.json", "resampler_config.json", "controlnet/config.json");
    private static final Map<String, String> WEIGHT_FILES = weightFiles();

    @Override
    public ComponentKind kind() {
        return ComponentKind.RECIPE;
    }

    @Override
    public String id() {
        return "ms-diffusion-sdxl";
    }

    @Override
    public String description() {
        return "MS-Diffusion on SDXL: multi-subject attention on the UNet's cross-attention, SDXL ControlNets";
    }

    @Override
    public Recipe create(ComponentContext context) {
        return RECIPE;
    }

    @Override
    public List<String> randomModels() {
        return List.of("tiny", "sdxl");
    }

    /** A configuration file the plugin has none of for a model is the published one (the full-size model's). */
    @Override
    public Template randomModel(String name) {
        if (!randomModels().contains(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a random model of " + id() + ": expected one of "
                    + randomModels() + Suggestions.didYouMean(name, randomModels()));
        }
        Map<String, URL> files = new LinkedHashMap<>();
        List<String> published = new ArrayList<>();
        for (String file : CONFIGURATION_FILES) {
            URL url = MsDiffusionSdxlRecipeFactory.class.getResource("random/" + name + "/" + file);
            if (url != null) {
                files.put(file, url);
            } else {
                published.add(file);
            }
        }
        return new Template(files, published, WEIGHT_FILES);
    }

    private static Map<String, String> weightFiles() {
        Map<String, String> files = new LinkedHashMap<>();
        for (String key : List.of("text_encoder", "text_encoder_2", "image_encoder")) {
            files.put(key, key + "/model.safetensors");
        }
        for (String key : List.of("unet", "vae", "controlnet")) {
            files.put(key, key + "/diffusion_pytorch_model.safetensors");
        }
        files.put("ms_adapter", "ms_adapter.bin");
        return files;
    }
}
