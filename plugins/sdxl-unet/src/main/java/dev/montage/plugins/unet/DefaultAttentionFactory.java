package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.nn.DefaultAttention;

/** Plain scaled dot-product attention (diffusers' {@code AttnProcessor2_0}). */
public final class DefaultAttentionFactory implements ComponentFactory<AttentionProcessor> {

    @Override
    public ComponentKind kind() {
        return ComponentKind.ATTENTION_PROCESSOR;
    }

    @Override
    public String id() {
        return "default";
    }

    @Override
    public String description() {
        return "plain scaled dot-product attention over the whole context";
    }

    @Override
    public AttentionProcessor create(ComponentContext context) {
        return DefaultAttention.INSTANCE;
    }
}
