package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.Dimensions;

/** Profile options shared by the attention processor factories. */
final class AttentionOptions {
    /** Option naming how many context tokens are text tokens. */
    static final String TEXT_TOKENS = "text_tokens";
    /** CLIP's context length, which SDXL's text encoders produce. */
    static final int DEFAULT_TEXT_TOKENS = 77;

    private AttentionOptions() {
    }

    /** A processor that splits the context after {@link #textTokens} expects that many text tokens. */
    static Dimensions dimensions(ComponentContext context) {
        return Dimensions.builder().expects(Dimensions.TEXT_TOKENS, textTokens(context),
                "attention option '" + TEXT_TOKENS + "' (default " + DEFAULT_TEXT_TOKENS + ")").build();
    }

    /**
     * @throws IllegalArgumentException naming the option when it is not a positive integer
     */
    static int textTokens(ComponentContext context) {
        String value = context.options().get(TEXT_TOKENS);
        if (value == null) {
            return DEFAULT_TEXT_TOKENS;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below with the accepted form
        }
        throw new IllegalArgumentException("attention option '" + TEXT_TOKENS + "' must be a positive integer, got '"
                + value + "'");
    }
}
