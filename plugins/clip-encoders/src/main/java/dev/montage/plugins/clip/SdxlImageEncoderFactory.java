package dev.montage.plugins.clip;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.WeightLayout;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's subject encoder from the profile's {@code image_encoder} folder (a transformers
 * {@code CLIPVisionModelWithProjection}, with its {@code preprocessor_config.json} if it has one).
 *
 * <p>Options: {@value ImagePreparation#ALPHA_BACKGROUND_OPTION} and {@value ImagePreparation#PAD_TO_SQUARE_OPTION}
 * (colours as {@code #rrggbb}, see {@link ImagePreparation}); without them the pictures are prepared as the
 * official inference script does.
 */
public final class SdxlImageEncoderFactory implements ComponentFactory<ImageEncoder>, WeightLayout {

    @Override
    public ComponentKind kind() {
        return ComponentKind.IMAGE_ENCODER;
    }

    @Override
    public String id() {
        return "clip-vision";
    }

    @Override
    public String description() {
        return "CLIP vision tower (CLIP-ViT-bigG-14 for MS-Diffusion): penultimate hidden states of the subjects";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder("image_encoder", "image_encoder",
                "a transformers CLIPVisionModelWithProjection folder (CLIP-ViT-bigG-14)"));
    }

    @Override
    public ImageEncoder create(ComponentContext context) {
        // options first: a typo in the profile is reported before gigabytes of weights are read
        ImagePreparation preparation = ImagePreparation.fromOptions(context.options());
        return new SdxlImageEncoder(context.model("image_encoder"), preparation, context.manager(), context.kernels(),
                context.dtype());
    }

    /** Provides the vision tower's hidden width, the width of the subject tokens. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelConfig config = context.model("image_encoder").config();
        return Dimensions.builder().provides(Dimensions.IMAGE_HIDDEN, ClipConfig.vision(config).hiddenSize(),
                Dimensions.Builder.describe(config, "hidden_size")).build();
    }

    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        return Map.of("image_encoder",
                ClipVisionModel.weightShapes(ClipConfig.vision(WeightLayout.require(configs, "image_encoder"))));
    }
}
