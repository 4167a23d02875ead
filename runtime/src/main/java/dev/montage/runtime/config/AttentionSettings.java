package dev.montage.runtime.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code components.attention}: the attention processor of each UNet attention layer.
 *
 * @param cross  processor id of the layers where the subjects act, in place of the recipe's
 * @param self   processor id of every other layer, in place of the recipe's
 * @param layers per-layer processor ids by regular expression on the layer's dotted name (e.g.
 *               {@code down_blocks\.2\..*attn2}); the first pattern that matches wins over {@code cross} and
 *               {@code self}, and a later profile's patterns are tried before an earlier one's
 */
public record AttentionSettings(Optional<String> cross, Optional<String> self, Map<String, String> layers) {

    public AttentionSettings {
        cross = Objects.requireNonNullElse(cross, Optional.empty());
        self = Objects.requireNonNullElse(self, Optional.empty());
        layers = Collections.unmodifiableMap(new LinkedHashMap<>(layers));
    }
}
