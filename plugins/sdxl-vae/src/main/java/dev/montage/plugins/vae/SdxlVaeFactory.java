package dev.montage.plugins.vae;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.PublishedConfiguration;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.api.spi.WeightLayout;
import java.net.URL;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The SDXL VAE decoder ({@code AutoencoderKL}) built from the base model's {@code vae} folder, with options
 * {@code upcast} and {@code slicing} ({@link VaeOptions}).
 */
public final class SdxlVaeFactory implements ComponentFactory<LatentDecoder>, WeightLayout, SingleFileLayout,
        PublishedConfiguration {
    /** The model key of the VAE folder. */
    public static final String MODEL_KEY = "vae";


    @Override
    public ComponentKind kind() {
        return ComponentKind.LATENT_DECODER;
    }

    @Override
    public String id() {
        return "sdxl-vae";
    }

    @Override
    public String description() {
        return "SDXL VAE decoder (diffusers AutoencoderKL)";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder(MODEL_KEY, MODEL_KEY, "a diffusers AutoencoderKL folder, or a VAE "
                + ".safetensors file (original or diffusers names) with the configuration of the base's vae/"));
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(VaeOptions.UPCAST, VaeOptions.SLICING, VaeOptions.TILING, VaeOptions.TILE_SIZE);
    }

    @Override
    public LatentDecoder create(ComponentContext context) {
        VaeOptions options = VaeOptions.of(context.options());
        return new SdxlVae(context.model(MODEL_KEY), context.manager(), context.kernels(), context.dtype(), options);
    }

    /** Provides the latent channels it decodes. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelConfig config = context.model(MODEL_KEY).config();
        return Dimensions.builder().provides(Dimensions.LATENT_CHANNELS, VaeConfig.from(config).latentChannels(),
                Dimensions.Builder.describe(config, "latent_channels")).build();
    }

    @Override
    public Set<String> singleFileKeys() {
        return Set.of(MODEL_KEY);
    }

    /**
     * The VAE of a single-file checkpoint ({@code first_stage_model.}) or of a VAE file, in the original or the
     * diffusers layout.
     */
    @Override
    public Optional<Map<String, MappedTensor>> view(String key, Map<String, long[]> file, ModelConfig config) {
        return OriginalVaeLayout.view(file, VaeLayout.shapes(VaeConfig.from(config)));
    }

    @Override
    public Optional<Map<String, long[]>> storedTensors(String key, ModelConfig config) {
        return Optional.of(OriginalVaeLayout.stored(VaeLayout.shapes(VaeConfig.from(config))));
    }

    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        return Map.of("vae", VaeLayout.shapes(VaeConfig.from(WeightLayout.require(configs, "vae"))));
    }

    @Override
    public String publishedModel() {
        return "SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)";
    }

    @Override
    public Map<String, URL> publishedFiles(String key) {
        return PublishedConfiguration.resources(SdxlVaeFactory.class, "sdxl-base", singleFileKeys(), key, "config.json");
    }
}
