package dev.montage.plugins.resampler;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.SubjectResampler;

/**
 * MS-Diffusion's grounding resampler from the {@code ms_adapter} checkpoint ({@code ms_adapter.bin}). Its sizes
 * are those of the published SDXL checkpoint unless the profile names a {@code resampler_config} file (a
 * {@code resampler_config.json} of keyword arguments, or an {@code ms_adapter_config.json} holding them under
 * {@code "resampler"}).
 */
public final class MsDiffusionResamplerFactory implements ComponentFactory<SubjectResampler> {
    /** The checkpoint key of the adapter weights. */
    public static final String CHECKPOINT_KEY = "ms_adapter";
    /** The optional path key of the resampler configuration. */
    public static final String CONFIG_KEY = "resampler_config";

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
    public SubjectResampler create(ComponentContext context) {
        ResamplerConfig config = context.path(CONFIG_KEY).map(ResamplerConfig::read)
                .orElse(ResamplerConfig.MS_DIFFUSION_SDXL);
        return new MsDiffusionResampler(new MsAdapterCheckpoint(context.checkpoint(CHECKPOINT_KEY)), config,
                context.manager(), context.kernels(), context.dtype());
    }
}
