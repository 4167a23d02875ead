package dev.montage.api.host;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.Collection;
import java.util.Set;

/**
 * Named tensors of one checkpoint (a safetensors file, a sharded set, or one sub-dictionary of a torch
 * checkpoint), looked up by the dotted names the checkpoint uses, e.g.
 * {@code down_blocks.1.attentions.0.proj_in.weight}.
 *
 * <p>Tensors are handed out on the engine's device in its compute dtype; checkpoint files are memory-mapped
 * and read only when a tensor is asked for.
 */
public interface ModelWeights {

    /** File or folder the tensors come from, for messages. */
    String source();

    /** Every tensor name. */
    Set<String> names();

    /** Whether a tensor of that name exists. */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * The shape a tensor has in the checkpoint.
     *
     * @throws IllegalArgumentException naming the source and the missing tensor
     */
    long[] shape(String name);

    /**
     * The tensor, on the engine's device in the compute dtype, attached to {@code manager}.
     *
     * @throws IllegalArgumentException naming the source and the missing tensor
     */
    NDArray get(String name, NDManager manager);

    /**
     * The tensor checked against an expected shape.
     *
     * @throws IllegalArgumentException naming the source, the tensor, the expected and the actual shape
     */
    NDArray get(String name, NDManager manager, long... expectedShape);

    /** The tensors whose names start with {@code prefix + "."}, with that prefix removed. */
    ModelWeights prefixed(String prefix);

    /**
     * Checks that this checkpoint holds exactly the expected names.
     *
     * @throws IllegalArgumentException listing every missing and every unexpected name together
     */
    void requireExactly(Collection<String> expected);
}
