package dev.montage.runtime.pipeline;

import dev.montage.runtime.engine.NativeMemory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** A {@link Pipeline} with the components and model files it owns; closing releases them all. */
final class AssembledPipeline implements AutoCloseable {
    private final Pipeline pipeline;
    private final FolderComponentContext context;
    private final List<Object> owned;
    private final Map<String, Duration> loadTimes;
    private final Function<List<Lora>, AssembledPipeline> variants;

    /**
     * @param loadTimes how long each component's creation took, by its description (read when asked, so that a
     *                  released component's later creations show)
     * @param variants  makes a pipeline sharing this one's components with more LoRAs applied; null for a pipeline
     *                  that is itself such a variant
     */
    AssembledPipeline(Pipeline pipeline, FolderComponentContext context, List<Object> owned,
            Map<String, Duration> loadTimes, Function<List<Lora>, AssembledPipeline> variants) {
        this.pipeline = pipeline;
        this.context = context;
        this.owned = new ArrayList<>(owned);
        this.loadTimes = loadTimes;
        this.variants = variants;
    }

    /** A copy of how long each component's creation took, in creation order. */
    Map<String, Duration> loadTimes() {
        synchronized (loadTimes) {
            return Collections.unmodifiableMap(new LinkedHashMap<>(loadTimes));
        }
    }

    Pipeline pipeline() {
        return pipeline;
    }

    /**
     * A pipeline sharing this one's components except those the LoRAs adapt, which it owns; it must be closed
     * before this one.
     *
     * @throws IllegalStateException on a variant
     */
    AssembledPipeline withLoras(List<Lora> loras) {
        if (variants == null) {
            throw new IllegalStateException("LoRAs are added to the pipeline a variant was made from, not to the "
                    + "variant");
        }
        return variants.apply(loras);
    }

    @Override
    public void close() {
        closeAll(owned, context);
    }

    static void closeAll(List<Object> components, FolderComponentContext context) {
        closeEach(components);
        context.close();
        NativeMemory.releaseFreed();
    }

    /** Closes the closeable ones among {@code components}, last first, going on past failures. */
    static void closeEach(List<?> components) {
        List<Object> reversed = new ArrayList<>(components);
        Collections.reverse(reversed);
        for (Object c : reversed) {
            if (c instanceof AutoCloseable closeable) {
                try {
                    closeable.close();
                } catch (Exception e) {
                    // releasing native memory; nothing to recover, keep releasing the rest
                }
            }
        }
    }
}
