package dev.montage.runtime.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.host.ModelWeights;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * A LoRA in the kohya-ss format: per module {@code <name>.lora_down.weight} ([rank, in] or, for a convolution,
 * [rank, in, kh, kw]), {@code <name>.lora_up.weight} ([out, rank] or [out, rank, 1, 1]) and an optional 0-dim
 * {@code <name>.alpha}, which is the rank where absent (kohya-ss's default).
 */
public final class LoraFile {
    private static final String DOWN = ".lora_down.weight";
    private static final String UP = ".lora_up.weight";
    private static final String ALPHA = ".alpha";

    /**
     * One module: the low-rank factors of the change of one layer's weight.
     *
     * @param name  the kohya-ss module name, e.g. {@code lora_unet_input_blocks_4_1_proj_in}
     * @param down  the shape of {@code lora_down}
     * @param up    the shape of {@code lora_up}
     * @param alpha the module's alpha (the delta is scaled by alpha / rank)
     */
    public record Module(String name, long[] down, long[] up, double alpha) {
        public long rank() {
            return down[0];
        }

        /** The shape of the weight this module changes: [out, in] or [out, in, kh, kw]. */
        public long[] target() {
            long[] shape = down.clone();
            shape[0] = up[0];
            return shape;
        }
    }

    private final ModelWeights weights;
    private final Map<String, Module> modules;

    /**
     * Reads the module names, shapes and alphas (no factor is read until {@link #delta}).
     *
     * @param weights the file's tensors
     * @param manager where the alphas are read, a scope the caller closes
     * @throws IllegalArgumentException naming the file and the tensor that is not of a kohya-ss LoRA, a module that
     *     lacks a factor, or a module whose factors' ranks or shapes disagree
     */
    public LoraFile(ModelWeights weights, NDManager manager) {
        this.weights = weights;
        Map<String, Module> found = new LinkedHashMap<>();
        for (String tensor : new TreeSet<>(weights.names())) {
            if (!tensor.endsWith(DOWN)) {
                if (!tensor.endsWith(UP) && !tensor.endsWith(ALPHA)) {
                    throw new IllegalArgumentException(weights.source() + ": tensor '" + tensor + "' is not of a "
                            + "kohya-ss LoRA (expected <module>" + DOWN + ", <module>" + UP + " and <module>" + ALPHA
                            + "; the diffusers LoRA format is not supported)");
                }
                continue;
            }
            String name = tensor.substring(0, tensor.length() - DOWN.length());
            found.put(name, module(name, manager));
        }
        for (String tensor : weights.names()) {
            String name = tensor.endsWith(DOWN) ? null
                    : tensor.substring(0, tensor.lastIndexOf(tensor.endsWith(ALPHA) ? ALPHA : UP));
            if (name != null && !found.containsKey(name)) {
                throw new IllegalArgumentException(weights.source() + ": LoRA module '" + name + "' has no " + name
                        + DOWN);
            }
        }
        this.modules = Collections.unmodifiableMap(found);
    }

    private Module module(String name, NDManager manager) {
        long[] down = weights.shape(name + DOWN);
        if (!weights.contains(name + UP)) {
            throw new IllegalArgumentException(weights.source() + ": LoRA module '" + name + "' has no " + name + UP);
        }
        long[] up = weights.shape(name + UP);
        boolean conv = down.length == 4 && up.length == 4 && up[2] == 1 && up[3] == 1;
        if (!conv && (down.length != 2 || up.length != 2)) {
            throw new IllegalArgumentException(weights.source() + ": LoRA module '" + name + "' has lora_down "
                    + Arrays.toString(down) + " and lora_up " + Arrays.toString(up) + "; expected [rank, in] and "
                    + "[out, rank], or [rank, in, kh, kw] and [out, rank, 1, 1]");
        }
        if (up[1] != down[0]) {
            throw new IllegalArgumentException(weights.source() + ": LoRA module '" + name + "' has rank " + down[0]
                    + " in lora_down " + Arrays.toString(down) + " but " + up[1] + " in lora_up "
                    + Arrays.toString(up) + "; expected the same rank in both");
        }
        double alpha = weights.contains(name + ALPHA)
                ? weights.get(name + ALPHA, manager).toType(DataType.FLOAT32, false).getFloat() : down[0];
        return new Module(name, down, up, alpha);
    }

    /** The file, for messages. */
    public String source() {
        return weights.source();
    }

    /** The modules by name, in name order. */
    public Map<String, Module> modules() {
        return modules;
    }

    /**
     * The change {@code scale * alpha / rank * up @ down} of a module's weight, in the weight's shape.
     *
     * @param manager where the change and its intermediates are attached
     */
    public NDArray delta(String module, double scale, NDManager manager) {
        Module m = modules.get(module);
        NDArray down = weights.get(module + DOWN, manager);
        NDArray up = weights.get(module + UP, manager);
        return up.reshape(m.up()[0], m.rank()).matMul(down.reshape(m.rank(), -1))
                .mul(scale * m.alpha() / m.rank()).reshape(m.target());
    }
}
