/**
 * SDXL UNet with its attention processors.
 *
 * <p>{@link dev.montage.plugins.unet.SdxlUNet} ports diffusers 0.23's {@code UNet2DConditionModel} as SDXL uses it,
 * driven by {@code unet/config.json}; one package-private class per diffusers module ({@code ResnetBlock2D},
 * {@code Transformer2DModel}, {@code BasicTransformerBlock}, {@code Attention}, ...), weights looked up by the
 * checkpoint's dotted names. Every attention layer calls the {@link dev.montage.api.spi.AttentionProcessor}
 * installed for it: plain scaled dot-product attention ({@code default}), MS-Diffusion's multi-subject
 * cross-attention ({@code ms-diffusion}, reading the {@link dev.montage.api.SubjectLayout} of the generation
 * context), or text-only cross-attention for ControlNets ({@code text-only}).
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.unet;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
