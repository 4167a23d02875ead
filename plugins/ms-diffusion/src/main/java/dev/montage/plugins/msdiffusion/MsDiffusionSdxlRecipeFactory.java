package dev.montage.plugins.msdiffusion;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Recipe;
import java.util.Map;

/**
 * MS-Diffusion on SDXL: the two CLIP text encoders, the CLIP-G vision encoder, the grounding resampler, the SDXL UNet
 * with multi-subject attention on every cross-attention layer and plain attention elsewhere, the SDXL VAE, Euler,
 * and the SDXL ControlNet for control types that bring no network of their own.
 */
public final class MsDiffusionSdxlRecipeFactory implements ComponentFactory<Recipe> {
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
}
