package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.WeightLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SDXL ControlNet of one control type. Option {@link Conditioner#CONTROL_TYPE}, which the host gives, names the
 * type (e.g. {@code canny}); the weights come from the folder of model key {@code controlnet.<type>} or, when the
 * profile configures none, from a generic {@code controlnet} folder (e.g. the one beside the base model's
 * components).
 */
public final class SdxlControlNetFactory implements ComponentFactory<Conditioner>, WeightLayout {
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
}
