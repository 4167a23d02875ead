/** AutoencoderKL decoder and encoder. */
package dev.montage.plugins.vae;
