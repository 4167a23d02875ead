package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.OptionSpec;

/** The option the attention processors that split their context share. */
final class AttentionOptions {
    /** CLIP's context length, which SDXL's text encoders produce. */
    private static final int CLIP_TOKENS = 77;

    /** How many context tokens are text tokens, before the image tokens MS-Diffusion appends. */
    static final OptionSpec<Integer> TEXT_TOKENS = OptionSpec.integer("text_tokens", 1, Integer.MAX_VALUE,
            "how many tokens at the start of the cross-attention context are text tokens").withDefault(CLIP_TOKENS);

    private AttentionOptions() {
    }

    /** A processor that splits the context after {@link #TEXT_TOKENS} expects that many text tokens. */
    static Dimensions dimensions(ComponentContext context) {
        return Dimensions.builder().expects(Dimensions.TEXT_TOKENS, context.options().get(TEXT_TOKENS),
                "attention option '" + TEXT_TOKENS.name() + "' (default " + CLIP_TOKENS + ")").build();
    }
}
