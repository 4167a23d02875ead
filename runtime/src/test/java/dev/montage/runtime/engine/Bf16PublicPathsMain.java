package dev.montage.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * Child-JVM program behind {@link Bf16PublicPathsTest}: pushes bf16 arrays through every public kernel and
 * through the guard, including calls that abort the JVM when unguarded, and prints one line per step.
 */
final class Bf16PublicPathsMain {
    /** Exactly representable in bf16, so the cast loses nothing. */
    static final float[] INPUT = {-2f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 4f};

    private Bf16PublicPathsMain() {
    }

    public static void main(String[] args) {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"))) {
            NDManager manager = engine.manager();
            Kernels kernels = engine.kernels();
            NDArray f32 = manager.create(INPUT, new Shape(1, 2, 2, 2));
            NDArray x = kernels.cast(f32, ComputeDType.BFLOAT16);
            step("cast", kernels, x);
            step("silu", kernels, kernels.silu(x));
            step("gelu exact", kernels, kernels.gelu(x, false));
            step("gelu tanh", kernels, kernels.gelu(x, true));
            step("group norm", kernels, kernels.groupNorm(x, 2, null, null, 1e-5));
            step("group norm affine", kernels, kernels.groupNorm(x, 1, kernels.cast(manager.ones(new Shape(2)),
                    ComputeDType.BFLOAT16), manager.zeros(new Shape(2)), 1e-5));
            NDArray q = kernels.cast(manager.randomNormal(new Shape(1, 2, 4, 8)), ComputeDType.BFLOAT16);
            step("attention", kernels, kernels.scaledDotProductAttention(q, q, q, null));
            step("attention bias", kernels, kernels.scaledDotProductAttention(q, q, q, manager.zeros(new Shape(4, 4))));
            NDArray back = kernels.cast(kernels.silu(x), ComputeDType.FLOAT32);
            System.out.println("silu values " + kernels.dtypeOf(back) + " " + Arrays.toString(back.toFloatArray()));

            guarded("guard create", () -> Bf16Guard.create(manager, FloatBuffer.allocate(2), new Shape(2),
                    DataType.BFLOAT16));
            guarded("guard zeros", () -> Bf16Guard.zeros(manager, new Shape(2), DataType.BFLOAT16));
            guarded("guard toType", () -> Bf16Guard.toType(f32, DataType.BFLOAT16, false));
            guarded("guard zeros like a bf16 array", () -> Bf16Guard.zeros(manager, x.getShape(), x.getDataType()));
            guarded("guard softmax", () -> Bf16Guard.checkArray(x, "softmax").softmax(-1));
        }
        System.out.println("done");
    }

    private static void step(String name, Kernels kernels, NDArray result) {
        System.out.println(name + " " + kernels.dtypeOf(result) + " " + result.getShape());
    }

    private static void guarded(String name, Supplier<NDArray> call) {
        try {
            call.get();
            System.out.println(name + " returned");
        } catch (IllegalArgumentException e) {
            System.out.println(name + " rejected: " + e.getMessage());
        }
    }
}
