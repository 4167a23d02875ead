package dev.montage.plugins.clip;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.WeightLayout;
import java.awt.Color;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's subject encoder from the profile's {@code image_encoder} folder (a transformers
 * {@code CLIPVisionModelWithProjection}, with its {@code preprocessor_config.json} if it has one).
 *
 * <p>Options: {@link #ALPHA_BACKGROUND} and {@link #PAD_TO_SQUARE} (see {@link ImagePreparation}); without them
 * the pictures are prepared as the official inference script does.
 */
public final class SdxlImageEncoderFactory implements ComponentFactory<ImageEncoder>, WeightLayout {
    private static final String COLOUR = "#?[0-9a-fA-F]{6}";
    private static final String COLOUR_FORM = "a colour as #rrggbb";

    /** The colour transparent subject pixels are composited onto. */
    public static final OptionSpec<String> ALPHA_BACKGROUND = OptionSpec.string("alpha_background", COLOUR,
            COLOUR_FORM, "composite transparent subject pixels onto this colour (unset: alpha dropped, as the "
                    + "official script does)");

    /** The colour non-square subjects are padded with. */
    public static final OptionSpec<String> PAD_TO_SQUARE = OptionSpec.string("pad_to_square", COLOUR, COLOUR_FORM,
            "pad non-square subjects to a square with this colour (unset: squashed, as the official script does)");

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
    public List<OptionSpec<?>> options() {
        return List.of(ALPHA_BACKGROUND, PAD_TO_SQUARE);
    }

    @Override
    public ImageEncoder create(ComponentContext context) {
        // options first: a bad value is reported before gigabytes of weights are read
        ImagePreparation preparation = preparation(context.options());
        return new SdxlImageEncoder(context.model("image_encoder"), preparation, context.manager(), context.kernels(),
                context.dtype());
    }

    /** Provides the vision tower's hidden width, the width of the subject tokens. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelConfig config = context.model("image_encoder").config();
        ClipConfig vision = ClipConfig.vision(config);
        return Dimensions.builder()
                .provides(Dimensions.IMAGE_HIDDEN, vision.hiddenSize(), Dimensions.Builder.describe(config, "hidden_size"))
                .provides(Dimensions.IMAGE_EMBEDS, vision.projectionDim(),
                        Dimensions.Builder.describe(config, "projection_dim"))
                .build();
    }

    /** How the options say subject pictures are prepared. */
    static ImagePreparation preparation(Options options) {
        return new ImagePreparation(options.find(ALPHA_BACKGROUND).map(SdxlImageEncoderFactory::colour),
                options.find(PAD_TO_SQUARE).map(SdxlImageEncoderFactory::colour));
    }

    private static Color colour(String hex) {
        return new Color(Integer.parseInt(hex.startsWith("#") ? hex.substring(1) : hex, 16));
    }

    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        return Map.of("image_encoder",
                ClipVisionModel.weightShapes(ClipConfig.vision(WeightLayout.require(configs, "image_encoder"))));
    }
}
