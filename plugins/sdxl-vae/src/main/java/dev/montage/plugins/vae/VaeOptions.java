package dev.montage.plugins.vae;

import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;

/**
 * The VAE component's options, {@link #UPCAST}, {@link #SLICING}, {@link #TILING} and {@link #TILE_SIZE}.
 *
 * @param upcast   when the VAE runs in float32 instead of the pipeline's compute dtype
 * @param slicing  decode and encode a batch one image at a time (diffusers' {@code enable_slicing}): same pixels,
 *                 peak activation memory of a single image
 * @param tiling   decode an image, and encode a picture, larger than a tile in overlapping tiles blended together
 *                 (diffusers' {@code enable_tiling}): the activation memory of one tile, slightly different pixels
 * @param tileSize the tile's side in pixels; 0 for the VAE's {@code sample_size}, as diffusers tiles
 */
record VaeOptions(Upcast upcast, boolean slicing, boolean tiling, int tileSize) {
    /** When the VAE computes in float32 instead of the pipeline's dtype. */
    static final OptionSpec<Upcast> UPCAST = OptionSpec.choice("upcast", Upcast.class, "when the VAE computes in "
            + "float32: auto (float16 pipelines whose VAE config sets force_upcast, as diffusers), always, never")
            .withDefault(Upcast.AUTO);
    /** Whether a batch is decoded one image at a time. */
    static final OptionSpec<Boolean> SLICING = OptionSpec.bool("slicing", "decode (and encode) a batch one image at a "
            + "time (diffusers' enable_slicing): same pixels, the activation memory of one image").withDefault(false);
    /** Whether an image larger than a tile is decoded, and a picture larger than a tile encoded, in tiles. */
    static final OptionSpec<Boolean> TILING = OptionSpec.bool("tiling", "decode an image, and encode an init image, "
            + "larger than a tile in overlapping tiles blended together (diffusers' enable_tiling): the activation "
            + "memory of one tile, slightly different pixels").withDefault(false);
    /** The tile of a tiled decode or encode. */
    static final OptionSpec<Integer> TILE_SIZE = OptionSpec.integer("tile_size", 0, 1 << 16, "the side of a tile "
            + "of a tiled decode or encode in pixels, a multiple of the VAE's scale factor; 0: the VAE's sample_size "
            + "(1024 for SDXL), as diffusers tiles").withDefault(0);
    /** Every option at its default. */
    static final VaeOptions DEFAULT = of(Options.NONE);

    /** The dtype policy. */
    enum Upcast {
        /**
         * diffusers 0.23's SDXL rule: float32 when the compute dtype is float16 and the config sets
         * {@code force_upcast} (the SDXL VAE overflows float16 activations). bfloat16 is left alone, as
         * diffusers does: it has float32's exponent range, so that overflow cannot happen.
         */
        AUTO,
        /** Always float32 (a little more precision for bf16 pipelines, at float32 cost). */
        ALWAYS,
        /** Always the compute dtype (for VAEs fine-tuned for fp16 whose config still says force_upcast). */
        NEVER;

        /** The dtype the VAE computes in. */
        ComputeDType dtypeFor(ComputeDType compute, boolean forceUpcast) {
            return switch (this) {
                case AUTO -> compute == ComputeDType.FLOAT16 && forceUpcast ? ComputeDType.FLOAT32 : compute;
                case ALWAYS -> ComputeDType.FLOAT32;
                case NEVER -> compute;
            };
        }
    }

    /**
     * The options of a component context.
     *
     * @throws IllegalArgumentException naming an option whose value is not one it takes
     */
    static VaeOptions of(Options options) {
        return new VaeOptions(options.get(UPCAST), options.get(SLICING), options.get(TILING), options.get(TILE_SIZE));
    }
}
