package dev.montage.runtime.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A view of a model's weights in which the tensors that LoRA modules adapt come with the modules' changes added: a
 * component reads its weights as it does without LoRAs, and the LoRAs cost nothing at generation time.
 */
public final class LoraWeights implements ModelWeights {

    /**
     * One LoRA module applied to one tensor.
     *
     * @param file   the LoRA
     * @param module the module's name in it
     * @param scale  the strength it is applied with
     */
    public record Applied(LoraFile file, String module, double scale) {
    }

    private final ModelWeights base;
    private final Map<String, List<Applied>> applied;

    /** @param applied the modules applied to each tensor, by tensor name in {@code base} */
    public LoraWeights(ModelWeights base, Map<String, List<Applied>> applied) {
        this.base = base;
        this.applied = Map.copyOf(applied);
    }

    @Override
    public String source() {
        return base.source();
    }

    @Override
    public Set<String> names() {
        return base.names();
    }

    @Override
    public long[] shape(String name) {
        return base.shape(name);
    }

    @Override
    public NDArray get(String name, NDManager manager) {
        return fused(name, base.get(name, manager), manager);
    }

    @Override
    public NDArray get(String name, NDManager manager, long... expectedShape) {
        return fused(name, base.get(name, manager, expectedShape), manager);
    }

    /** The weight with its modules' changes added; a new array, since the weight may view a read-only file. */
    private NDArray fused(String name, NDArray weight, NDManager manager) {
        List<Applied> modules = applied.get(name);
        if (modules == null) {
            return weight;
        }
        NDArray fused;
        try (NDManager scope = manager.newSubManager()) {
            NDArray sum = Scopes.borrow(weight, scope);
            for (Applied a : modules) {
                sum = sum.add(a.file().delta(a.module(), a.scale(), scope));
            }
            fused = sum;
            fused.attach(manager);
        }
        weight.close();
        return fused;
    }

    @Override
    public ModelWeights prefixed(String prefix) {
        String p = prefix + ".";
        Map<String, List<Applied>> sub = new LinkedHashMap<>();
        applied.forEach((name, modules) -> {
            if (name.startsWith(p)) {
                sub.put(name.substring(p.length()), modules);
            }
        });
        return new LoraWeights(base.prefixed(prefix), sub);
    }

    @Override
    public void requireExactly(Collection<String> expected) {
        base.requireExactly(expected);
    }
}
