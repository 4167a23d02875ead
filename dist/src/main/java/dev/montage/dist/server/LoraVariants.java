package dev.montage.dist.server;

import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs each generation on the server's pipeline, or on a LoRA variant of it ({@link MontagePipeline#withLoras})
 * when the request names LoRAs. The pipeline's own weights never change, so a request without LoRAs gives what it
 * gives in a fresh process whatever ran before it. At most {@code capacity} sets of LoRAs stay loaded: another set
 * takes the place of the least recently used one that no running generation uses, and waits until one is free.
 */
final class LoraVariants {
    /** A loaded set of LoRAs; {@code pipeline} is null while it loads. */
    private static final class Variant {
        private MontagePipeline pipeline;
        private int users;
    }

    private final MontagePipeline base;
    private final int capacity;
    /** The loaded and loading variants by their LoRAs, least recently used first. */
    private final Map<List<Lora>, Variant> loaded = new LinkedHashMap<>(16, 0.75f, true);

    LoraVariants(MontagePipeline base, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("at least one set of LoRAs must fit, got " + capacity);
        }
        this.base = base;
        this.capacity = capacity;
    }

    GenerationResult generate(GenerationRequest request, List<Lora> loras, ProgressListener listener) {
        if (loras.isEmpty()) {
            return base.generate(request, listener);
        }
        Variant variant = acquire(List.copyOf(loras));
        try {
            return variant.pipeline.generate(request, listener);
        } finally {
            release(variant);
        }
    }

    /** The variant of these LoRAs, loaded if need be, counted as used. */
    private Variant acquire(List<Lora> loras) {
        Variant variant;
        synchronized (this) {
            while (true) {
                variant = loaded.get(loras);
                if (variant != null && variant.pipeline != null) {
                    variant.users++;
                    return variant;
                }
                if (variant == null && loaded.size() < capacity) {
                    variant = new Variant();
                    loaded.put(loras, variant);
                    break;
                }
                if (variant == null && evictOne()) {
                    continue;
                }
                // being loaded by another generation, or every loaded one is in use
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new GenerationCancelledException("interrupted while waiting for LoRAs " + loras + " to load");
                }
            }
        }
        MontagePipeline pipeline;
        try {
            pipeline = base.withLoras(loras);
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                loaded.remove(loras);
                notifyAll();
            }
            throw e;
        }
        synchronized (this) {
            variant.pipeline = pipeline;
            variant.users++;
            notifyAll();
        }
        return variant;
    }

    /** Closes the least recently used loaded variant that no generation uses; whether there was one. */
    private boolean evictOne() {
        for (Map.Entry<List<Lora>, Variant> e : loaded.entrySet()) {
            Variant v = e.getValue();
            if (v.pipeline != null && v.users == 0) {
                loaded.remove(e.getKey());
                v.pipeline.close();
                return true;
            }
        }
        return false;
    }

    private synchronized void release(Variant variant) {
        variant.users--;
        notifyAll();
    }
}
