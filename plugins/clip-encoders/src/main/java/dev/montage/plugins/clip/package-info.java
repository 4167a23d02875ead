/** CLIP tokenizer, SDXL text encoders and the CLIP-G vision encoder. */
package dev.montage.plugins.clip;
