/** MS-Diffusion grounding resampler: subject image tokens to UNet cross-attention tokens. */
package dev.montage.plugins.resampler;
