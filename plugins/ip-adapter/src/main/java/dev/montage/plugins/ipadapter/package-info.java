/**
 * IP-Adapter for SDXL, as a subject adapter: the image projection that turns a subject picture's image embedding
 * into image tokens ({@link dev.montage.plugins.ipadapter.ImageProjection}), and the decoupled cross-attention that
 * adds the attention to those tokens, scaled, to each cross-attention layer's text attention
 * ({@link dev.montage.plugins.ipadapter.IpAttention}). Subjects take no phrase; a box restricts a subject to a
 * region. The {@code ip_adapter} checkpoint is the official {@code .bin} ({@code image_proj} and {@code ip_adapter}
 * dictionaries) or the flattened {@code .safetensors} with the same names.
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.ipadapter;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
