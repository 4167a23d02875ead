package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.OptionSpec;
import java.util.List;

/**
 * Cross-attention over the text tokens only (for ControlNets next to MS-Diffusion). Option {@code text_tokens}
 * (default 77) sets how many context tokens are text.
 */
public final class TextOnlyAttentionFactory implements ComponentFactory<AttentionProcessor> {

    @Override
    public ComponentKind kind() {
        return ComponentKind.ATTENTION_PROCESSOR;
    }

    @Override
    public String id() {
        return "text-only";
    }

    @Override
    public String description() {
        return "cross-attention over the first 77 (text) context tokens only, for ControlNets";
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(AttentionOptions.TEXT_TOKENS);
    }

    /** Expects the text token count that starts every cross-attention context (option {@code text_tokens}). */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        return AttentionOptions.dimensions(context);
    }

    @Override
    public AttentionProcessor create(ComponentContext context) {
        return new TextOnlyAttention(context.options().get(AttentionOptions.TEXT_TOKENS));
    }
}
