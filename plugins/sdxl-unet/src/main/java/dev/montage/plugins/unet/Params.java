package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Where a module's constructor takes its tensors from, by checkpoint name and expected shape. Loading reads them
 * from a checkpoint; {@link #shapesInto(Map)} only records names and shapes, so the same constructors also
 * describe a checkpoint's layout (for {@link dev.montage.api.spi.WeightLayout}) without a second list of names.
 */
abstract class Params {
    private final String prefix;

    private Params(String prefix) {
        this.prefix = prefix;
    }

    /** Tensors of {@code weights} as stored, attached to {@code manager}. */
    static Params loading(ModelWeights weights, NDManager manager) {
        return new Loading("", weights, manager, UnaryOperator.identity());
    }

    /**
     * Tensors of {@code weights}, attached to {@code manager}, with the linear weights that the model multiplies every
     * step laid out for {@code kernels} ({@link Kernels#packLinearWeight}).
     */
    static Params loading(ModelWeights weights, NDManager manager, Kernels kernels) {
        return new Loading("", weights, manager, kernels::packLinearWeight);
    }

    /** Records every requested tensor into {@code sink} and returns null arrays. */
    static Params shapesInto(Map<String, long[]> sink) {
        return new Shapes("", sink);
    }

    /** The same source under {@code prefix + "."}. */
    abstract Params prefixed(String name);

    /**
     * The tensor {@code <prefix>.<name>}.
     *
     * @throws IllegalArgumentException naming the checkpoint, the tensor and both shapes when they differ
     */
    abstract NDArray get(String name, long... shape);

    /** The weight {@code <prefix>.<name>} [out, in] of a linear layer, for {@link Kernels#linear}. */
    abstract NDArray linearWeight(String name, long out, long in);

    final String fullName(String name) {
        return prefix + name;
    }

    final String childPrefix(String name) {
        return prefix + name + ".";
    }

    private static final class Loading extends Params {
        private final ModelWeights weights;
        private final NDManager manager;
        private final UnaryOperator<NDArray> linearLayout;

        Loading(String prefix, ModelWeights weights, NDManager manager, UnaryOperator<NDArray> linearLayout) {
            super(prefix);
            this.weights = weights;
            this.manager = manager;
            this.linearLayout = linearLayout;
        }

        @Override
        Params prefixed(String name) {
            return new Loading(childPrefix(name), weights, manager, linearLayout);
        }

        @Override
        NDArray get(String name, long... shape) {
            return weights.get(fullName(name), manager, shape);
        }

        @Override
        NDArray linearWeight(String name, long out, long in) {
            NDArray stored = get(name, out, in);
            NDArray laidOut = linearLayout.apply(stored);
            if (laidOut != stored) {
                // the packed copy replaces it: a model keeps one copy of its weights
                stored.close();
            }
            return laidOut;
        }
    }

    private static final class Shapes extends Params {
        private final Map<String, long[]> sink;

        Shapes(String prefix, Map<String, long[]> sink) {
            super(prefix);
            this.sink = sink;
        }

        @Override
        Params prefixed(String name) {
            return new Shapes(childPrefix(name), sink);
        }

        @Override
        NDArray get(String name, long... shape) {
            sink.put(fullName(name), shape.clone());
            return null;
        }

        @Override
        NDArray linearWeight(String name, long out, long in) {
            return get(name, out, in);
        }
    }
}
