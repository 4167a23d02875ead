/**
 * SDXL UNet with its attention processors.
 *
 * <p>{@link dev.montage.plugins.unet.SdxlUNet} ports diffusers 0.23's {@code UNet2DConditionModel} as SDXL uses it,
 * driven by {@code unet/config.json}; one package-private class per diffusers module ({@code ResnetBlock2D},
 * {@code Transformer2DModel}, {@code BasicTransformerBlock}, {@code Attention}, ...), weights looked up by the
 * checkpoint's dotted names. Every attention layer calls the {@link dev.montage.api.spi.AttentionProcessor}
 * installed for it with the layer's {@link dev.montage.api.spi.EncoderContext}: plain scaled dot-product attention
 * over the text ({@code default}) or MS-Diffusion's multi-subject cross-attention ({@code ms-diffusion}, which also
 * attends to the context's {@link dev.montage.api.SubjectConditioning}).
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.unet;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
