package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionLayout;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.LoraTarget;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.PublishedConfiguration;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.api.spi.WeightLayout;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** The SDXL UNet from the base model's {@code unet} folder. */
public final class SdxlUNetFactory implements ComponentFactory<DenoisingModel>, WeightLayout, AttentionLayout,
        SingleFileLayout, PublishedConfiguration, LoraTarget {
    /** The model key of the UNet folder. */
    public static final String MODEL_KEY = "unet";
    /** An attention's projection: the attention's path and the projection's name in its processor. */
    private static final Pattern ATTENTION_PROJECTION =
            Pattern.compile("(.+\\.attn\\d+)\\.(to_[qkv]|to_out)(?:\\.0)?");

    @Override
    public ComponentKind kind() {
        return ComponentKind.DENOISING_MODEL;
    }

    @Override
    public String id() {
        return "sdxl-unet";
    }

    @Override
    public String description() {
        return "SDXL UNet (diffusers UNet2DConditionModel, text_time conditioning), pluggable attention processors";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder(MODEL_KEY, MODEL_KEY, "a diffusers UNet2DConditionModel folder"));
    }

    @Override
    public DenoisingModel create(ComponentContext context) {
        return new SdxlUNet(context.model(MODEL_KEY), context.manager(), context.kernels(), context.dtype(),
                FreeU.of(context.options()).orElse(null));
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(FreeU.OPTION);
    }

    /**
     * Expects the text widths, the latent channels in and out, and subject tokens as wide as its cross-attention
     * (MS-Diffusion puts them into the same context).
     */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        UNetConfig config = UNetConfig.from(context.model(MODEL_KEY).config());
        Dimensions.Builder dimensions = config.expectations(Dimensions.builder())
                .expects(Dimensions.LATENT_CHANNELS, config.outChannels(), config.source() + " 'out_channels'");
        for (int width : new TreeSet<>(config.crossAttentionDims())) {
            dimensions.expects(Dimensions.SUBJECT_WIDTH, width, config.source() + " 'cross_attention_dim'");
        }
        if (config.timeCondProjDim() > 0) {
            dimensions.provides(Dimensions.GUIDANCE_EMBEDDING, config.timeCondProjDim(), config.source()
                    + " 'time_cond_proj_dim'");
        }
        return dimensions.build();
    }

    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        UNetConfig config = UNetConfig.from(WeightLayout.require(configs, MODEL_KEY));
        return Map.of(MODEL_KEY, SdxlUNet.weightShapes(config));
    }

    @Override
    public Set<String> singleFileKeys() {
        return Set.of(MODEL_KEY);
    }

    /** The UNet of a single-file SDXL checkpoint, under {@code model.diffusion_model.} in the original layout. */
    @Override
    public Optional<Map<String, MappedTensor>> view(String key, Map<String, long[]> file, ModelConfig config) {
        UNetConfig unet = UNetConfig.from(config);
        return OriginalUNetLayout.view(file, SdxlUNet.weightShapes(unet), unet.additionInputDim());
    }

    /** The input channels as the file's first convolution has them (an inpainting checkpoint's nine). */
    @Override
    public ModelConfig adapted(String key, Map<String, long[]> file, ModelConfig config) {
        return OriginalUNetLayout.adapted(file, config);
    }

    @Override
    public Optional<Map<String, long[]>> storedTensors(String key, ModelConfig config) {
        return Optional.of(OriginalUNetLayout.stored(SdxlUNet.weightShapes(UNetConfig.from(config))));
    }

    @Override
    public String publishedModel() {
        return "SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)";
    }

    @Override
    public Map<String, URL> publishedFiles(String key) {
        return PublishedConfiguration.resources(SdxlUNetFactory.class, "sdxl-base", singleFileKeys(), key,
                "config.json");
    }

    @Override
    public List<AttentionLayerSpec> attentionLayers(Map<String, ModelConfig> configs) {
        return SdxlUNet.attentionLayers(UNetConfig.from(WeightLayout.require(configs, MODEL_KEY)));
    }

    @Override
    public Map<String, String> loraPrefixes() {
        return Map.of(MODEL_KEY, "lora_unet");
    }

    /** kohya-ss names UNet modules by their original (SGM) path, e.g. {@code input_blocks_4_1_proj_in}. */
    @Override
    public Map<String, String> loraModules(String key, Set<String> tensorNames) {
        OriginalUNetLayout original = new OriginalUNetLayout(tensorNames);
        Map<String, String> modules = new LinkedHashMap<>();
        for (String name : tensorNames) {
            if (name.endsWith(WEIGHT)) {
                String module = original.original(name);
                modules.put(module.substring(0, module.length() - WEIGHT.length()).replace('.', '_'), name);
            }
        }
        return modules;
    }

    /**
     * Besides each layer's path, diffusers' attention processors before 0.21 name an attention's projections
     * {@code <attention>.processor.to_q} ... {@code to_out} (for {@code to_out.0}).
     */
    @Override
    public Map<String, String> diffusersLoraModules(String key, Set<String> tensorNames) {
        return LoraTarget.withAliases(LoraTarget.super.diffusersLoraModules(key, tensorNames),
                ATTENTION_PROJECTION, "$1.processor.$2");
    }
}
