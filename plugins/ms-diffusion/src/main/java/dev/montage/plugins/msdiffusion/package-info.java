/**
 * MS-Diffusion as one plugin: the grounding resampler (subject image features to subject tokens), the multi-subject
 * cross-attention processor with its box masks, per-subject scales and auto layout, the binding of the
 * {@code ms_adapter} checkpoint to both, and the {@code ms-diffusion-sdxl} recipe that assembles them with the SDXL
 * components. The processor binds its per-layer projections to whichever denoising model it serves
 * ({@link dev.montage.api.host.ComponentContext#attentionLayers()}).
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.msdiffusion;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
