package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Scopes;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Keys and values of the encoder context, projected once per generation. The context (text tokens, then subject
 * tokens) is the same at every denoising step, so a cross-attention layer's {@code to_k}/{@code to_v} (and the
 * adapter's {@code to_k_ip}/{@code to_v_ip}) of it are too: they are computed at the first call and reused, which
 * saves two or four projections of every cross-attention layer at every later step. The results are the very
 * arrays the projections would compute again, so numerics do not change.
 *
 * <p>Kept in the {@link GenerationContext} per projection owner, compared by identity (a ControlNet's layers have
 * the same names as the UNet's), and valid for one context array and token span: a call with another context array
 * projects afresh. A context array must therefore not be modified in place while a generation uses it. The arrays
 * live in a sub-manager of the manager that owns the first context seen (the generation's in a pipeline), so they
 * end with the generation.
 */
final class ContextProjections {
    private static final GenerationContext.Key<ContextProjections> KEY = GenerationContext.Key.of(
            "unet.context-projections", ContextProjections.class);

    /**
     * Projected keys and values, [B, S, heads*d] each, owned by the cache; {@link #key(NDManager)} and
     * {@link #value(NDManager)} lend them to a call's scope, so that ops on them leave nothing in the cache.
     */
    record KeyValue(NDArray key, NDArray value) {
        NDArray key(NDManager scope) {
            return Scopes.borrow(key, scope);
        }

        NDArray value(NDManager scope) {
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

    private record Entry(NDArray context, long from, long to, KeyValue projected) {
    }

    private final Map<Object, Entry> entries = new IdentityHashMap<>();
    private NDManager manager;

    private ContextProjections() {
    }

    /** The projections of the generation in {@code ctx}, created on first use. */
    static ContextProjections of(GenerationContext ctx) {
        return ctx.computeIfAbsent(KEY, ContextProjections::new);
    }

    /**
     * The keys and values of tokens {@code [from, to)} of {@code context}, projected on first use.
     *
     * @param owner   identifies the projections (the attention layer for {@code to_k}/{@code to_v}, the adapter's
     *                projections of that layer for {@code to_k_ip}/{@code to_v_ip})
     * @param context [B, S, Cc] the whole encoder context of the call
     */
    KeyValue get(Object owner, NDArray context, long from, long to, UnaryOperator<NDArray> toKey,
            UnaryOperator<NDArray> toValue) {
        Entry entry = entries.get(owner);
        if (entry != null && entry.context() == context && entry.from() == from && entry.to() == to
                && !context.isReleased() && entry.projected().isAlive()) {
            return entry.projected();
        }
        if (entry != null) {
            entry.projected().close();
        }
        NDManager kept = manager(context.getManager());
        try (NDManager scope = kept.newSubManager()) {
            NDArray whole = Scopes.borrow(context, scope);
            NDArray span = from == 0 && to == context.getShape().get(1) ? whole
                    : contiguous(whole.get(new NDIndex(":, {}:{}", from, to)));
            NDArray key = toKey.apply(span);
            NDArray value = toValue.apply(span);
            key.attach(kept);
            value.attach(kept);
            KeyValue projected = new KeyValue(key, value);
            entries.put(owner, new Entry(context, from, to, projected));
            return projected;
        }
    }

    /**
     * A contiguous copy of a token span. PyTorch multiplies a strided view of three axes batch by batch with a
     * broadcast weight: a bf16 SDXL context projection of {@code context[:, :77]} took 16.9 ms that way against
     * 2.5 ms contiguous on the machine of BENCHMARKS.md, 3–5 s of the first step at 512². Flattening to rows
     * copies the view; reshaping back only views the copy.
     */
    private static NDArray contiguous(NDArray span) {
        Shape shape = span.getShape();
        return span.reshape(-1, shape.get(shape.dimension() - 1)).reshape(shape);
    }

    private NDManager manager(NDManager owner) {
        if (manager == null || !manager.isOpen()) {
            entries.clear();
            manager = owner.newSubManager();
        }
        return manager;
    }
}
