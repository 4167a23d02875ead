/** CLIP tokenizer, SDXL text encoders and the CLIP-G vision encoder. */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.clip;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
