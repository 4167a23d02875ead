package dev.montage.runtime.pipeline;

import dev.montage.runtime.engine.NativeMemory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A {@link Pipeline} with the components and model files it owns; closing releases them all. */
final class AssembledPipeline implements AutoCloseable {
    private final Pipeline pipeline;
    private final FolderComponentContext context;
    private final List<Object> owned;

    AssembledPipeline(Pipeline pipeline, FolderComponentContext context, List<Object> owned) {
        this.pipeline = pipeline;
        this.context = context;
        this.owned = new ArrayList<>(owned);
    }

    Pipeline pipeline() {
        return pipeline;
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
