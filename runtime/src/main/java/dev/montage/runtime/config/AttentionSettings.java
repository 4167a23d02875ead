package dev.montage.runtime.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Profile section {@code components.attention}: the attention processor of each UNet attention layer.
 *
 * @param cross  processor id of every cross-attention layer ({@code attn2}), where MS-Diffusion acts
 * @param self   processor id of every other layer (self-attention)
 * @param layers per-layer processor ids by regular expression on the layer's dotted name (e.g.
 *               {@code down_blocks\.2\..*attn2}); the first pattern that matches wins over {@code cross} and
 *               {@code self}, and a later profile's patterns are tried before an earlier one's
 */
public record AttentionSettings(String cross, String self, Map<String, String> layers) {

    public AttentionSettings {
        layers = Collections.unmodifiableMap(new LinkedHashMap<>(layers));
    }
}
