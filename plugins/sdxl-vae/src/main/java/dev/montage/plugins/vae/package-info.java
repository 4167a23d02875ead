/**
 * The SDXL VAE: diffusers' {@code AutoencoderKL} (decoder and encoder) driven by the {@code vae/config.json}
 * of a diffusers folder, registered as the {@code sdxl-vae} latent decoder by
 * {@link dev.montage.plugins.vae.SdxlVaeFactory}. Class names and weight names follow the diffusers module tree.
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.vae;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
