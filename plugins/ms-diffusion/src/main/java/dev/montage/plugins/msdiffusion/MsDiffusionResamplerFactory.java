package dev.montage.plugins.msdiffusion;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.WeightLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's grounding resampler from the {@code ms_adapter} checkpoint ({@code ms_adapter.bin}). Its sizes
 * are those of the published SDXL checkpoint unless the profile names a {@code resampler_config} file (a
 * {@code resampler_config.json} of keyword arguments, or an {@code ms_adapter_config.json} holding them under
 * {@code "resampler"}).
 */
public final class MsDiffusionResamplerFactory implements ComponentFactory<SubjectResampler>, WeightLayout {
    /** The checkpoint key of the adapter weights. */
    public static final String CHECKPOINT_KEY = "ms_adapter";
    /** The optional path key of the resampler configuration. */
    public static final String CONFIG_KEY = "resampler_config";
    /** MS-Diffusion's number of learned background tokens. */
    private static final int DUMMY_TOKENS = 4;

    @Override
    public ComponentKind kind() {
        return ComponentKind.SUBJECT_RESAMPLER;
    }

    @Override
    public String id() {
        return "ms-diffusion";
    }

    @Override
    public String description() {
        return "MS-Diffusion grounding resampler: phrase + box queries over CLIP image tokens, plus dummy tokens";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(MsAdapterCheckpoint.FILE,
                ModelFile.file(CONFIG_KEY, "resampler_config.json", "the resampler's keyword arguments (JSON)").optional());
    }

    @Override
    public SubjectResampler create(ComponentContext context) {
        return new MsDiffusionResampler(new MsAdapterCheckpoint(context.checkpoint(CHECKPOINT_KEY)), config(context),
                context.manager(), context.kernels(), context.dtype());
    }

    /** Expects image tokens and phrase embeddings of its input widths; provides subject tokens of its output width. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ResamplerConfig config = config(context);
        return Dimensions.builder()
                .expects(Dimensions.IMAGE_HIDDEN, config.embeddingDim(), config.source() + " 'embedding_dim'")
                .expects(Dimensions.PHRASE_WIDTH, config.phraseEmbeddingsDim(),
                        config.source() + " 'phrase_embeddings_dim'")
                .provides(Dimensions.SUBJECT_WIDTH, config.outputDim(), config.source() + " 'output_dim'")
                .build();
    }

    private static ResamplerConfig config(ComponentContext context) {
        return context.path(CONFIG_KEY).map(ResamplerConfig::read).orElse(ResamplerConfig.MS_DIFFUSION_SDXL);
    }

    /** {@code ms_adapter}: {@code image_proj.*} and {@code dummy_image_tokens} (the attention side adds the rest). */
    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        ResamplerConfig config = configs.containsKey(CONFIG_KEY) ? ResamplerConfig.from(configs.get(CONFIG_KEY))
                : ResamplerConfig.MS_DIFFUSION_SDXL;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        GroundingResampler.expectedShapes(config).forEach((k, v) -> shapes.put(MsAdapterCheckpoint.IMAGE_PROJ + "." + k, v));
        shapes.put(MsAdapterCheckpoint.DUMMY_IMAGE_TOKENS, new long[] {1, DUMMY_TOKENS, config.outputDim()});
        return Map.of(CHECKPOINT_KEY, shapes);
    }
}
