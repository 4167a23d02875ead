package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Where a module's constructor takes its tensors from, by checkpoint name and expected shape. Loading reads them
 * from a checkpoint and remembers which it handed out, so that tensors a configuration has no place for are
 * reported ({@link #requireAllUsed}); {@link #shapesInto(Map)} only records names and shapes, so the same
 * constructors also describe a checkpoint's layout without a second list of names.
 */
public abstract class Weights {
    private final String prefix;

    private Weights(String prefix) {
        this.prefix = prefix;
    }

    /**
     * Tensors of {@code weights} as the host hands them out (the compute dtype), attached to {@code manager}.
     *
     * @param kernels the kernels the layers built from these weights compute with
     */
    public static Weights loading(ModelWeights weights, NDManager manager, Kernels kernels) {
        return new Loading("", weights, manager, kernels, UnaryOperator.identity(), UnaryOperator.identity(),
                new HashSet<>());
    }

    /** Records every requested tensor into {@code sink} and returns null arrays; layers built so never run. */
    public static Weights shapesInto(Map<String, long[]> sink) {
        return new Shapes("", sink);
    }

    /**
     * These weights with the linear weights that a model multiplies every step laid out for the kernels
     * ({@link Kernels#prepareLinearWeight}); the stored copy is closed.
     */
    public abstract Weights preparingLinears();

    /**
     * These weights converted to {@code dtype} where the host's compute dtype differs (a model that runs wider than
     * the pipeline, as diffusers' upcast VAE does).
     */
    public abstract Weights castTo(ComputeDType dtype);

    /** The same source under {@code prefix + "."}. */
    public abstract Weights prefixed(String name);

    /**
     * The tensor {@code <prefix>.<name>}.
     *
     * @throws IllegalArgumentException naming the checkpoint, the tensor and both shapes when they differ
     */
    public abstract NDArray get(String name, long... shape);

    /** The weight {@code <prefix>.<name>} [out, in] of a linear layer, for {@link Kernels#linear}. */
    public abstract NDArray linearWeight(String name, long out, long in);

    /** Whether the checkpoint has a tensor {@code <prefix>.<name>} (always false when only shapes are recorded). */
    public abstract boolean contains(String name);

    /** The kernels layers built from these weights compute with (null when only shapes are recorded). */
    public abstract Kernels kernels();

    /**
     * Checks that every tensor under the given names (relative to this view, a name or a dotted prefix) was handed
     * out.
     *
     * @throws IllegalArgumentException naming the checkpoint and the unused tensors
     */
    public abstract void requireAllUsed(String... roots);

    final String fullName(String name) {
        return prefix + name;
    }

    final String childPrefix(String name) {
        return prefix + name + ".";
    }

    private static final class Loading extends Weights {
        private final ModelWeights weights;
        private final NDManager manager;
        private final Kernels kernels;
        private final UnaryOperator<NDArray> linearLayout;
        private final UnaryOperator<NDArray> conversion;
        /** Full names handed out, shared by every view of the same load. */
        private final Set<String> used;

        Loading(String prefix, ModelWeights weights, NDManager manager, Kernels kernels,
                UnaryOperator<NDArray> linearLayout, UnaryOperator<NDArray> conversion, Set<String> used) {
            super(prefix);
            this.weights = weights;
            this.manager = manager;
            this.kernels = kernels;
            this.linearLayout = linearLayout;
            this.conversion = conversion;
            this.used = used;
        }

        @Override
        public Weights preparingLinears() {
            return new Loading(fullName(""), weights, manager, kernels, kernels::prepareLinearWeight, conversion, used);
        }

        @Override
        public Weights castTo(ComputeDType dtype) {
            UnaryOperator<NDArray> cast = stored -> {
                if (kernels.dtypeOf(stored) == dtype) {
                    return stored;
                }
                NDArray converted = kernels.cast(stored, dtype);
                stored.close();
                return converted;
            };
            return new Loading(fullName(""), weights, manager, kernels, linearLayout, cast, used);
        }

        @Override
        public Weights prefixed(String name) {
            return new Loading(childPrefix(name), weights, manager, kernels, linearLayout, conversion, used);
        }

        @Override
        public NDArray get(String name, long... shape) {
            NDArray stored = weights.get(fullName(name), manager, shape);
            used.add(fullName(name));
            return conversion.apply(stored);
        }

        @Override
        public NDArray linearWeight(String name, long out, long in) {
            NDArray stored = get(name, out, in);
            NDArray laidOut = linearLayout.apply(stored);
            if (laidOut != stored) {
                // the prepared copy replaces it: a model keeps one copy of its weights
                stored.close();
            }
            return laidOut;
        }

        @Override
        public boolean contains(String name) {
            return weights.contains(fullName(name));
        }

        @Override
        public Kernels kernels() {
            return kernels;
        }

        @Override
        public void requireAllUsed(String... roots) {
            Set<String> unused = new TreeSet<>();
            for (String name : weights.names()) {
                for (String root : roots) {
                    String full = fullName(root);
                    if ((name.equals(full) || name.startsWith(full + ".")) && !used.contains(name)) {
                        unused.add(name);
                    }
                }
            }
            if (!unused.isEmpty()) {
                throw new IllegalArgumentException(weights.source() + " holds " + unused.size()
                        + " tensors the configuration has no place for (does config.json match the weights?): "
                        + (unused.size() <= 20 ? unused : unused.stream().limit(20).toList() + " ..."));
            }
        }
    }

    private static final class Shapes extends Weights {
        private final Map<String, long[]> sink;

        Shapes(String prefix, Map<String, long[]> sink) {
            super(prefix);
            this.sink = sink;
        }

        @Override
        public Weights preparingLinears() {
            return this;
        }

        @Override
        public Weights castTo(ComputeDType dtype) {
            return this;
        }

        @Override
        public Weights prefixed(String name) {
            return new Shapes(childPrefix(name), sink);
        }

        @Override
        public NDArray get(String name, long... shape) {
            sink.put(fullName(name), shape.clone());
            return null;
        }

        @Override
        public NDArray linearWeight(String name, long out, long in) {
            return get(name, out, in);
        }

        @Override
        public boolean contains(String name) {
            return false;
        }

        @Override
        public Kernels kernels() {
            return null;
        }

        @Override
        public void requireAllUsed(String... roots) {
            // nothing was loaded
        }
    }
}
