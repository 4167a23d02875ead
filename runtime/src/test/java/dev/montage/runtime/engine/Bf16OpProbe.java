package dev.montage.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Function;

/**
 * Child-JVM program behind {@link Bf16OpSafetyTest}: applies the named DJL operations to bf16 arrays and
 * prints {@code BEGIN name} before and {@code RESULT name SAFE <result dtype>} or
 * {@code RESULT name THROWS <exception>} after each. An operation that aborts the JVM leaves a
 * {@code BEGIN} without its {@code RESULT}.
 */
final class Bf16OpProbe {
    enum Outcome { SAFE, THROWS, ABORTS }

    record Probe(String name, Outcome expected, Function<Fixture, Object> op) {
    }

    /** bf16 inputs, made through the kernels as model code makes them. */
    static final class Fixture {
        final NDManager manager;
        final Kernels kernels;
        final NDArray x;
        final NDArray y;
        final NDArray f32;

        Fixture(MontageEngine engine) {
            manager = engine.manager();
            kernels = engine.kernels();
            f32 = manager.arange(24f).reshape(2, 3, 4).div(10);
            x = bf16(f32);
            y = bf16(f32.add(1));
        }

        NDArray bf16(NDArray array) {
            return kernels.cast(array, ComputeDType.BFLOAT16);
        }

        NDArray ones(long... shape) {
            return bf16(manager.ones(new Shape(shape)));
        }
    }

    /** Every probed operation with the outcome observed on DJL 0.35.1 / PyTorch 2.7.1 (see KERNELS.md). */
    static final List<Probe> PROBES = List.of(
            new Probe("getDataType", Outcome.SAFE, f -> f.x.getDataType()),
            new Probe("getShape", Outcome.SAFE, f -> f.x.getShape()),
            new Probe("add(bf16)", Outcome.SAFE, f -> f.x.add(f.y)),
            new Probe("add(float32)", Outcome.SAFE, f -> f.x.add(f.f32)),
            new Probe("add(scalar)", Outcome.SAFE, f -> f.x.add(1)),
            new Probe("sub", Outcome.SAFE, f -> f.x.sub(f.y)),
            new Probe("mul(bf16)", Outcome.SAFE, f -> f.x.mul(f.y)),
            new Probe("mul(scalar)", Outcome.SAFE, f -> f.x.mul(2)),
            new Probe("div(scalar)", Outcome.SAFE, f -> f.x.div(2)),
            new Probe("neg", Outcome.SAFE, f -> f.x.neg()),
            new Probe("exp", Outcome.SAFE, f -> f.x.exp()),
            new Probe("sqrt", Outcome.SAFE, f -> f.x.sqrt()),
            new Probe("pow(scalar)", Outcome.SAFE, f -> f.x.pow(2)),
            new Probe("sum", Outcome.SAFE, f -> f.x.sum()),
            new Probe("mean(axis)", Outcome.SAFE, f -> f.x.mean(new int[] {2}, true)),
            new Probe("max", Outcome.SAFE, f -> f.x.max()),
            new Probe("matMul", Outcome.SAFE, f -> f.x.matMul(f.y.transpose(0, 2, 1))),
            new Probe("Linear.linear", Outcome.SAFE, f -> Linear.linear(f.x, f.ones(5, 4), f.ones(5))),
            new Probe("Conv2d.conv2d", Outcome.SAFE, f -> Conv2d.conv2d(f.ones(1, 2, 5, 5), f.ones(3, 2, 3, 3),
                    f.ones(3), new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)),
            new Probe("LayerNorm.layerNorm", Outcome.SAFE,
                    f -> LayerNorm.layerNorm(f.x, new Shape(4), f.ones(4), f.ones(4), 1e-5f)),
            new Probe("Activation.sigmoid", Outcome.SAFE, f -> Activation.sigmoid(f.x)),
            new Probe("Activation.relu", Outcome.SAFE, f -> Activation.relu(f.x)),
            new Probe("tanh", Outcome.SAFE, f -> f.x.tanh()),
            new Probe("interpolation(nearest, 2x)", Outcome.SAFE,
                    f -> f.ones(1, 2, 4, 4).getNDArrayInternal().interpolation(new long[] {8, 8}, 0, false)),
            new Probe("reshape", Outcome.SAFE, f -> f.x.reshape(6, 4)),
            new Probe("transpose", Outcome.SAFE, f -> f.x.transpose(0, 2, 1)),
            new Probe("expandDims+squeeze", Outcome.SAFE, f -> f.x.expandDims(0).squeeze(0)),
            new Probe("concat", Outcome.SAFE, f -> f.x.concat(f.y, 1)),
            new Probe("NDArrays.stack", Outcome.SAFE, f -> NDArrays.stack(new NDList(f.x, f.y))),
            new Probe("split", Outcome.SAFE, f -> f.x.split(3, 1)),
            new Probe("get(NDIndex)", Outcome.SAFE, f -> f.x.get(new NDIndex(":, 1:, ::2"))),
            new Probe("broadcast", Outcome.SAFE, f -> f.x.get(new NDIndex("0")).broadcast(new Shape(2, 3, 4))),
            new Probe("repeat", Outcome.SAFE, f -> f.x.repeat(0, 2)),
            new Probe("flatten", Outcome.SAFE, f -> f.x.flatten()),
            new Probe("duplicate", Outcome.SAFE, f -> f.x.duplicate()),
            new Probe("stopGradient", Outcome.SAFE, f -> f.x.stopGradient()),
            new Probe("addi", Outcome.SAFE, f -> f.x.duplicate().addi(f.y)),
            new Probe("muli(scalar)", Outcome.SAFE, f -> f.x.duplicate().muli(2)),
            new Probe("set(NDIndex, Number)", Outcome.SAFE, f -> {
                NDArray copy = f.x.duplicate();
                copy.set(new NDIndex("0"), 1f);
                return copy;
            }),
            new Probe("NDArrays.where", Outcome.SAFE, f -> NDArrays.where(f.f32.gt(1), f.x, f.y)),
            new Probe("gt(scalar)", Outcome.SAFE, f -> f.x.gt(1)),
            new Probe("toType(FLOAT32)", Outcome.SAFE, f -> f.x.toType(DataType.FLOAT32, false)),
            new Probe("toType(FLOAT16)", Outcome.SAFE, f -> f.x.toType(DataType.FLOAT16, false)),
            new Probe("toByteBuffer", Outcome.SAFE, f -> f.x.toByteBuffer()),
            new Probe("toFloatArray", Outcome.THROWS, f -> f.x.toFloatArray()),
            new Probe("toString", Outcome.THROWS, f -> f.x.toString()),
            new Probe("softmax", Outcome.ABORTS, f -> f.x.softmax(-1)),
            new Probe("logSoftmax", Outcome.ABORTS, f -> f.x.logSoftmax(-1)),
            new Probe("zerosLike", Outcome.ABORTS, f -> f.x.zerosLike()),
            new Probe("onesLike", Outcome.ABORTS, f -> f.x.onesLike()),
            new Probe("toDevice(cpu, copy)", Outcome.ABORTS, f -> f.x.toDevice(Device.cpu(), true)),
            new Probe("manager.zeros(x.getShape(), x.getDataType())", Outcome.ABORTS,
                    f -> f.manager.zeros(f.x.getShape(), f.x.getDataType())),
            new Probe("toType(BFLOAT16)", Outcome.ABORTS, f -> f.f32.toType(DataType.BFLOAT16, false)),
            new Probe("manager.zeros(shape, BFLOAT16)", Outcome.ABORTS,
                    f -> f.manager.zeros(new Shape(2), DataType.BFLOAT16)),
            new Probe("manager.create(shape, BFLOAT16)", Outcome.ABORTS,
                    f -> f.manager.create(new Shape(2), DataType.BFLOAT16)),
            new Probe("manager.create(buffer, shape, BFLOAT16)", Outcome.ABORTS,
                    f -> f.manager.create(ByteBuffer.allocateDirect(4), new Shape(2), DataType.BFLOAT16)),
            new Probe("Bf16Guard.checkArray(x, \"softmax\")", Outcome.THROWS,
                    f -> Bf16Guard.checkArray(f.x, "softmax").softmax(-1)),
            new Probe("Bf16Guard.toType(BFLOAT16)", Outcome.THROWS,
                    f -> Bf16Guard.toType(f.f32, DataType.BFLOAT16, false)),
            new Probe("Bf16Guard.zeros(shape, BFLOAT16)", Outcome.THROWS,
                    f -> Bf16Guard.zeros(f.manager, new Shape(2), DataType.BFLOAT16)),
            new Probe("Bf16Guard.create(buffer, shape, BFLOAT16)", Outcome.THROWS,
                    f -> Bf16Guard.create(f.manager, ByteBuffer.allocateDirect(4), new Shape(2), DataType.BFLOAT16)));

    private Bf16OpProbe() {
    }

    /** @param args names of {@link #PROBES}, run in this order */
    public static void main(String[] args) {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"))) {
            Fixture fixture = new Fixture(engine);
            for (String name : args) {
                Probe probe = PROBES.stream().filter(p -> p.name().equals(name)).findFirst()
                        .orElseThrow(() -> new IllegalArgumentException("no probe named " + name));
                System.out.println("BEGIN " + name);
                System.out.flush();
                String outcome;
                try {
                    outcome = Outcome.SAFE + " " + resultDType(probe.op().apply(fixture), fixture.kernels);
                } catch (RuntimeException e) {
                    outcome = Outcome.THROWS + " " + e.getClass().getSimpleName() + ": " + e.getMessage();
                }
                System.out.println("RESULT " + name + " " + outcome.lines().findFirst().orElse(""));
                System.out.flush();
            }
        }
    }

    private static String resultDType(Object result, Kernels kernels) {
        NDArray array = result instanceof NDList list ? list.head() : result instanceof NDArray a ? a : null;
        if (array == null) {
            return "-";
        }
        DataType reported = array.getDataType();
        return reported == DataType.UNKNOWN ? kernels.dtypeOf(array).configName() : reported.toString();
    }
}
