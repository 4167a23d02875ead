package dev.montage.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.TestEngine;
import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class WeightsTest {

    @Test
    void aPreparedLinearWeightReplacesTheStoredOne() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            NDArray stored = manager.zeros(new Shape(3, 2));
            NDArray prepared = manager.ones(new Shape(3, 2));
            Weights p = Weights.loading(weights("layer.weight", stored), manager,
                    kernels(w -> w == stored ? prepared : w)).preparingLinears();

            assertSame(prepared, p.prefixed("layer").linearWeight("weight", 3, 2));
            assertTrue(stored.isReleased(), "the stored copy was kept beside the prepared one");
        }
    }

    @Test
    void aWeightTheKernelsKeepAsItIsStaysOpen() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            NDArray stored = manager.zeros(new Shape(3, 2));

            assertSame(stored, Weights.loading(weights("w", stored), manager, kernels(w -> w)).preparingLinears()
                    .linearWeight("w", 3, 2));
            assertSame(stored, Weights.loading(weights("w", stored), manager, kernels(w -> null))
                    .linearWeight("w", 3, 2), "without preparingLinears the stored layout stays");
            assertFalse(stored.isReleased());
        }
    }

    @Test
    void shapesRecordLinearWeightsLikeOtherTensors() {
        Map<String, long[]> shapes = new HashMap<>();

        assertNull(Weights.shapesInto(shapes).prefixed("proj").linearWeight("weight", 4, 5));
        assertArrayEquals(new long[] {4, 5}, shapes.get("proj.weight"));
    }

    @Test
    void unusedTensorsUnderTheCheckedNamesAreReportedByName() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            Map<String, NDArray> tensors = Map.of("decoder.conv.weight", manager.zeros(new Shape(2)),
                    "decoder.conv.bias", manager.zeros(new Shape(2)), "decoder.extra", manager.zeros(new Shape(1)),
                    "encoder.conv.weight", manager.zeros(new Shape(2)));
            Weights w = Weights.loading(weights(tensors), manager, TestEngine.kernels());
            Weights decoder = w.prefixed("decoder");
            decoder.get("conv.weight", 2);
            decoder.prefixed("conv").get("bias", 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> w.requireAllUsed("decoder"));
            assertTrue(e.getMessage().contains("holds 1 tensors") && e.getMessage().contains("[decoder.extra]"),
                    e.getMessage());
            decoder.get("extra", 1);
            w.requireAllUsed("decoder");
            decoder.requireAllUsed("conv");
        }
    }

    @Test
    void castToWidensTensorsTheHostHandsOutNarrower() {
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            NDArray stored = TestEngine.kernels().cast(manager.ones(new Shape(3)), ComputeDType.BFLOAT16);
            Weights w = Weights.loading(weights(Map.of("w", stored)), manager, TestEngine.kernels());
            NDArray widened = w.castTo(ComputeDType.FLOAT32).get("w", 3);
            assertEquals(ComputeDType.FLOAT32, TestEngine.kernels().dtypeOf(widened));
            assertArrayEquals(new float[] {1, 1, 1}, widened.toFloatArray());
            assertTrue(stored.isReleased(), "the narrow copy is not kept");
        }
    }

    /** Weights holding one tensor under {@code name}; other calls fail. */
    private static ModelWeights weights(String name, NDArray tensor) {
        return weights(Map.of(name, tensor));
    }

    /** Weights holding the given tensors. */
    private static ModelWeights weights(Map<String, NDArray> tensors) {
        return (ModelWeights) Proxy.newProxyInstance(WeightsTest.class.getClassLoader(),
                new Class<?>[] {ModelWeights.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "get":
                            if (args.length == 3 && tensors.containsKey(args[0])) {
                                return tensors.get(args[0]);
                            }
                            break;
                        case "names":
                            return tensors.keySet();
                        case "source":
                            return "test.safetensors";
                        default:
                            break;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    /** Kernels whose only method is {@code prepareLinearWeight}. */
    private static Kernels kernels(UnaryOperator<NDArray> prepare) {
        return (Kernels) Proxy.newProxyInstance(WeightsTest.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("prepareLinearWeight")) {
                        return prepare.apply((NDArray) args[0]);
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
