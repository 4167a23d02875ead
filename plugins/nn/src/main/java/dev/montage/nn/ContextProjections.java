package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Keys and values of the encoder context's tokens, projected once per generation. The text and subject tokens are
 * the same at every denoising step, so a cross-attention layer's {@code to_k}/{@code to_v} of the text (and the
 * adapter's {@code to_k_ip}/{@code to_v_ip} of the subject tokens) are too: they are computed at the first call and
 * reused, which saves two or four projections of every cross-attention layer at every later step. The results are
 * the very arrays the projections would compute again, so numerics do not change.
 *
 * <p>Kept in the {@link GenerationContext} per projection owner, compared by identity (a ControlNet's layers have
 * the same names as the UNet's), and valid for one token array: a call with another array projects afresh. A token
 * array must therefore not be modified in place while a generation uses it. The arrays live in a sub-manager of the
 * manager that owns the first tokens seen (the generation's in a pipeline), so they end with the generation.
 */
public final class ContextProjections {
    private static final GenerationContext.Key<ContextProjections> KEY = GenerationContext.Key.of(
            "nn.context-projections", ContextProjections.class);

    /**
     * Projected keys and values, [B, S, heads*d] each, owned by the cache; {@link #key(NDManager)} and
     * {@link #value(NDManager)} lend them to a call's scope, so that ops on them leave nothing in the cache.
     */
    public record KeyValue(NDArray key, NDArray value) {
        public NDArray key(NDManager scope) {
            return Scopes.borrow(key, scope);
        }

        public NDArray value(NDManager scope) {
            return Scopes.borrow(value, scope);
        }

        private boolean isAlive() {
            return !key.isReleased() && !value.isReleased();
        }

        private void close() {
            key.close();
            value.close();
        }
    }

    private record Entry(NDArray tokens, KeyValue projected) {
    }

    private final Map<Object, Entry> entries = new IdentityHashMap<>();
    private NDManager manager;

    private ContextProjections() {
    }

    /** The projections of the generation in {@code ctx}, created on first use. */
    public static ContextProjections of(GenerationContext ctx) {
        return ctx.computeIfAbsent(KEY, ContextProjections::new);
    }

    /**
     * The keys and values of {@code tokens}, projected on first use.
     *
     * @param owner  identifies the projections (the attention layer for {@code to_k}/{@code to_v}, the adapter's
     *               projections of that layer for {@code to_k_ip}/{@code to_v_ip})
     * @param tokens [B, S, Cc]
     */
    public KeyValue get(Object owner, NDArray tokens, UnaryOperator<NDArray> toKey, UnaryOperator<NDArray> toValue) {
        Entry entry = entries.get(owner);
        if (entry != null && entry.tokens() == tokens && !tokens.isReleased() && entry.projected().isAlive()) {
            return entry.projected();
        }
        if (entry != null) {
            entry.projected().close();
        }
        NDManager kept = manager(tokens.getManager());
        try (NDManager scope = kept.newSubManager()) {
            NDArray borrowed = Scopes.borrow(tokens, scope);
            NDArray key = toKey.apply(borrowed);
            NDArray value = toValue.apply(borrowed);
            key.attach(kept);
            value.attach(kept);
            KeyValue projected = new KeyValue(key, value);
            entries.put(owner, new Entry(tokens, projected));
            return projected;
        }
    }

    /** The keys and values of a layer's own {@code to_k}/{@code to_v} of the text tokens, projected on first use. */
    public KeyValue text(AttentionLayer layer, NDArray text) {
        return get(layer, text, layer::key, layer::value);
    }

    /**
     * The keys and values of an adapter's {@code to_k_ip}/{@code to_v_ip} of its image tokens, multiplied with the
     * kernels of the layer they serve, projected on first use.
     */
    public KeyValue image(AttentionLayer layer, IpProjections.Projection ip, NDArray tokens) {
        Kernels kernels = layer.kernels();
        return get(ip, tokens, t -> kernels.linear(t, ip.key(), null), t -> kernels.linear(t, ip.value(), null));
    }

    private NDManager manager(NDManager owner) {
        if (manager == null || !manager.isOpen()) {
            entries.clear();
            manager = owner.newSubManager();
        }
        return manager;
    }
}
