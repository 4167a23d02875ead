package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checkpoint tensors in the dtype the VAE runs in, which may be wider than the pipeline's compute dtype
 * ({@code force_upcast}). Remembers which names were taken so that a checkpoint holding more than the
 * configuration describes is reported instead of silently half-used.
 */
final class VaeWeights {
    private final ModelWeights weights;
    private final String prefix;
    private final NDManager manager;
    private final ComputeDType dtype;
    private final Kernels kernels;
    private final Set<String> used;

    private VaeWeights(ModelWeights weights, String prefix, NDManager manager, ComputeDType dtype, Kernels kernels,
            Set<String> used) {
        this.weights = weights;
        this.prefix = prefix;
        this.manager = manager;
        this.dtype = dtype;
        this.kernels = kernels;
        this.used = used;
    }

    /**
     * @param weights the whole checkpoint ({@code encoder.*}, {@code decoder.*}, the quant convs)
     * @param manager receives every tensor handed out
     * @param dtype   the dtype the VAE computes in
     */
    static VaeWeights of(ModelWeights weights, NDManager manager, ComputeDType dtype, Kernels kernels) {
        return new VaeWeights(weights, "", manager, dtype, kernels, new HashSet<>());
    }

    VaeWeights prefixed(String sub) {
        return new VaeWeights(weights.prefixed(sub), prefix + sub + ".", manager, dtype, kernels, used);
    }

    boolean contains(String name) {
        return weights.contains(name);
    }

    /** The tensor checked against its expected shape, in the VAE's dtype. */
    /** The kernels the weights were converted with, for layers that convert activations too. */
    Kernels kernels() {
        return kernels;
    }

    NDArray get(String name, long... shape) {
        NDArray stored = weights.get(name, manager, shape);
        used.add(prefix + name);
        if (kernels.dtypeOf(stored) == dtype) {
            return stored;
        }
        // the host hands out the pipeline's compute dtype; an upcast VAE widens it (as diffusers' upcast_vae does)
        NDArray cast = kernels.cast(stored, dtype);
        stored.close();
        return cast;
    }

    /**
     * Checks that every tensor under the given top-level names was taken.
     *
     * @throws IllegalArgumentException naming the checkpoint and the unused tensors
     */
    void requireAllUsed(String... roots) {
        Set<String> unused = new TreeSet<>();
        for (String name : weights.names()) {
            String full = prefix + name;
            for (String root : roots) {
                if ((full.equals(root) || full.startsWith(root + ".")) && !used.contains(full)) {
                    unused.add(full);
                }
            }
        }
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException(weights.source() + " holds " + unused.size()
                    + " tensors the VAE configuration has no place for (does config.json match the weights?): "
                    + (unused.size() <= 20 ? unused : unused.stream().limit(20).toList() + " ..."));
        }
    }
}
