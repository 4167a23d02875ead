package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Copies of intermediate UNet outputs by module name ({@code time_proj}, {@code down_blocks.1.attentions.0.norm},
 * ...), for conformance tests of the UNet and of the adapters that run inside it. A test puts one into the
 * {@link GenerationContext} under {@link #KEY}; the UNet records into it while it is there and does nothing
 * otherwise.
 */
public final class StageCapture implements StageRecorder, AutoCloseable {
    /** Where the UNet looks for a capture. */
    public static final GenerationContext.Key<StageCapture> KEY = GenerationContext.Key.of("unet.stageCapture",
            StageCapture.class);

    private final NDManager manager;
    private final Map<String, NDArray> stages = new LinkedHashMap<>();

    /** @param parent the copies live in a sub-manager of it until {@link #close()} */
    public StageCapture(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /** Keeps a copy of the first value recorded under {@code name}. */
    @Override
    public void record(String name, NDArray value) {
        if (!stages.containsKey(name)) {
            NDArray copy = value.duplicate();
            copy.attach(manager);
            stages.put(name, copy);
        }
    }

    /** Everything recorded, in recording order. */
    public Map<String, NDArray> stages() {
        return stages;
    }

    @Override
    public void close() {
        manager.close();
    }
}
