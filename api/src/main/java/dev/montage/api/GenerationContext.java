package dev.montage.api;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Per-generation state handed down every call of one generation: step index, layout masks, captured
 * attention maps. Components keep such state here, never in their own fields, so that concurrent
 * generations sharing the same components cannot see each other.
 *
 * <p>Not thread-safe: one generation runs on one thread.
 */
public final class GenerationContext {

    /**
     * A typed key. Keys compare by identity: declare them as constants of the component that owns the value.
     *
     * @param <T> the value type
     */
    public static final class Key<T> {
        private final String name;
        private final Class<T> type;

        private Key(String name, Class<T> type) {
            this.name = Objects.requireNonNull(name);
            this.type = Objects.requireNonNull(type);
        }

        /** A new key; {@code name} is only for messages. */
        public static <T> Key<T> of(String name, Class<T> type) {
            return new Key<>(name, type);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private final GenerationRequest request;
    private final Map<Key<?>, Object> values = new HashMap<>();
    private int step;
    private int totalSteps;

    public GenerationContext(GenerationRequest request) {
        this.request = Objects.requireNonNull(request, "request");
        this.totalSteps = request.steps();
    }

    /** The request being generated. */
    public GenerationRequest request() {
        return request;
    }

    /** 0-based index of the current denoising step, counted from the first a run from a picture takes. */
    public int step() {
        return step;
    }

    /**
     * Number of denoising steps of this generation, counted in model evaluations: of a run from a picture those of
     * the steps it takes ({@link GenerationRequest#stepsTaken()} steps, 2 · that − 1 evaluations for a sampler with
     * two per step).
     */
    public int totalSteps() {
        return totalSteps;
    }

    /** Moves to a step; called by the generation loop only. */
    public void setStep(int step, int totalSteps) {
        if (step < 0 || step >= totalSteps) {
            throw new IllegalArgumentException("step " + step + " outside 0.." + (totalSteps - 1));
        }
        this.step = step;
        this.totalSteps = totalSteps;
    }

    /** The value stored under {@code key}, or {@code null}. */
    public <T> T get(Key<T> key) {
        return key.type.cast(values.get(key));
    }

    /** Stores a value (null removes it). */
    public <T> void put(Key<T> key, T value) {
        if (value == null) {
            values.remove(key);
        } else {
            values.put(key, key.type.cast(value));
        }
    }

    /** The value under {@code key}, created by {@code factory} on first use. */
    public <T> T computeIfAbsent(Key<T> key, Supplier<? extends T> factory) {
        T v = get(key);
        if (v == null) {
            v = Objects.requireNonNull(factory.get(), () -> "factory for " + key + " returned null");
            values.put(key, v);
        }
        return v;
    }
}
