/** MS-Diffusion grounding resampler: subject image tokens to UNet cross-attention tokens. */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.resampler;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
