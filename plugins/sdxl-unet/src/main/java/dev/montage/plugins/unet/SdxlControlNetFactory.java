package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.Dimensions;
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
import java.util.function.Function;

/**
 * The SDXL ControlNet of one control type. Option {@link Conditioner#CONTROL_TYPE}, which the host gives, names the
 * type (e.g. {@code canny}); the weights come from the folder of model key {@code controlnet.<type>} or, when the
 * profile configures none, from a generic {@code controlnet} folder (e.g. the one beside the base model's
 * components). Either key may also be one weights file, in diffusers' or the original layout
 * ({@link ControlNetFileLayout}); its configuration is then the {@code config.json} of the key's folder in the base
 * or configuration folder where there is one, else the base model's UNet configuration made a ControlNet's.
 */
public final class SdxlControlNetFactory implements ComponentFactory<Conditioner>, WeightLayout, SingleFileLayout,
        PublishedConfiguration {
    /** The component id. */
    public static final String ID = "sdxl-controlnet";
    /** Model key of a ControlNet folder not bound to a type. */
    public static final String GENERIC_MODEL_KEY = "controlnet";

    /** The model key of the ControlNet of a control type: {@code controlnet.<type>}. */
    public static String modelKey(String type) {
        return GENERIC_MODEL_KEY + "." + type;
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITIONER;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "SDXL ControlNet (diffusers ControlNetModel) from controlnet.<type> or a controlnet folder";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder(GENERIC_MODEL_KEY, GENERIC_MODEL_KEY,
                "a diffusers ControlNetModel folder, for control types without a folder of their own").optional());
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(Conditioner.CONTROL_TYPE);
    }

    /**
     * @throws IllegalArgumentException when the type option is missing, no folder is configured for the type, or
     *     the folder does not hold a supported ControlNet
     */
    @Override
    public Conditioner create(ComponentContext context) {
        String type = context.options().get(Conditioner.CONTROL_TYPE);
        return SdxlControlNet.load(type, context.model(folderKey(context, type)), context.manager(),
                context.kernels(), context.dtype());
    }

    /** Expects what the UNet expects of its encoder half, plus control images of its conditioning channels. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        String type = context.options().get(Conditioner.CONTROL_TYPE);
        ModelConfig file = context.model(folderKey(context, type)).config();
        ControlNetConfig config = ControlNetConfig.from(file);
        return config.encoder().expectations(Dimensions.builder())
                .expects(Dimensions.CONTROL_CHANNELS, config.conditioningChannels(),
                        Dimensions.Builder.describe(file, "conditioning_channels"))
                .build();
    }

    /** The model key of the type's folder, else of the generic one. */
    private static String folderKey(ComponentContext context, String type) {
        String key = modelKey(type);
        if (context.path(key).isPresent()) {
            return key;
        }
        if (context.path(GENERIC_MODEL_KEY).isEmpty()) {
            throw new IllegalArgumentException("no ControlNet weights: configure model '" + key
                    + "' (profile controlnets." + type + ", or model=DIR in the control)");
        }
        return GENERIC_MODEL_KEY;
    }

    /** The tensors of every ControlNet configuration given: {@code controlnet} and each {@code controlnet.<type>}. */
    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        Map<String, Map<String, long[]>> out = new LinkedHashMap<>();
        configs.forEach((key, config) -> {
            if (key.equals(GENERIC_MODEL_KEY) || key.startsWith(GENERIC_MODEL_KEY + ".")) {
                out.put(key, SdxlControlNet.weightShapes(ControlNetConfig.from(config), null));
            }
        });
        return out;
    }

    /** A single-file checkpoint of a whole model holds no ControlNet: its keys are files of their own only. */
    @Override
    public Set<String> singleFileKeys() {
        return Set.of();
    }

    @Override
    public Set<String> componentFileKeys() {
        return Set.of(GENERIC_MODEL_KEY);
    }

    /**
     * What diffusers' {@code ControlNetModel.from_unet} makes of the base model's UNet configuration, with the
     * conditioning embedding as the file has it: the ControlNets shared as one file are trained on the base UNet
     * and ship no configuration.
     */
    @Override
    public Optional<ModelConfig> configuration(String key, Map<String, long[]> file,
            Function<String, ModelConfig> configs) {
        return Optional.of(ControlNetFileLayout.derived(configs.apply(SdxlUNetFactory.MODEL_KEY), file));
    }

    @Override
    public Optional<Map<String, MappedTensor>> view(String key, Map<String, long[]> file, ModelConfig config) {
        ControlNetConfig controlNet = ControlNetConfig.from(config);
        return ControlNetFileLayout.view(file, SdxlControlNet.weightShapes(controlNet, null),
                controlNet.encoder().additionInputDim());
    }

    @Override
    public String publishedModel() {
        return "SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)";
    }

    @Override
    public Map<String, URL> publishedFiles(String key) {
        return PublishedConfiguration.resources(SdxlControlNetFactory.class, "sdxl-base", componentFileKeys(), key,
                "config.json");
    }
}
