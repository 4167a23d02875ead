package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.TestEngine;
import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ParamsTest {

    @Test
    void aPackedLinearWeightReplacesTheStoredOne() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            NDArray stored = manager.zeros(new Shape(3, 2));
            NDArray packed = manager.ones(new Shape(3, 2));
            Params p = Params.loading(weights("layer.weight", stored), manager, kernels(w -> w == stored ? packed : w));

            assertSame(packed, p.prefixed("layer").linearWeight("weight", 3, 2));
            assertTrue(stored.isReleased(), "the stored copy was kept beside the packed one");
        }
    }

    @Test
    void aWeightTheKernelsKeepAsItIsStaysOpen() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            NDArray stored = manager.zeros(new Shape(3, 2));

            assertSame(stored, Params.loading(weights("w", stored), manager, kernels(w -> w)).linearWeight("w", 3, 2));
            assertSame(stored, Params.loading(weights("w", stored), manager).linearWeight("w", 3, 2));
            assertFalse(stored.isReleased());
        }
    }

    @Test
    void shapesRecordLinearWeightsLikeOtherTensors() {
        Map<String, long[]> shapes = new HashMap<>();

        assertNull(Params.shapesInto(shapes).prefixed("proj").linearWeight("weight", 4, 5));
        assertArrayEquals(new long[] {4, 5}, shapes.get("proj.weight"));
    }

    /** Weights holding one tensor under {@code name}; other calls fail. */
    private static ModelWeights weights(String name, NDArray tensor) {
        return (ModelWeights) Proxy.newProxyInstance(ParamsTest.class.getClassLoader(),
                new Class<?>[] {ModelWeights.class}, (proxy, method, args) -> {
                    if (method.getName().equals("get") && args.length == 3 && name.equals(args[0])) {
                        return tensor;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    /** Kernels whose only method is {@code packLinearWeight}. */
    private static Kernels kernels(UnaryOperator<NDArray> pack) {
        return (Kernels) Proxy.newProxyInstance(ParamsTest.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("packLinearWeight")) {
                        return pack.apply((NDArray) args[0]);
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
