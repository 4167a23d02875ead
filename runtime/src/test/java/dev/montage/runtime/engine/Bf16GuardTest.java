package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The guard throws before DJL is called, so even the aborting requests are safe to make in this JVM. */
class Bf16GuardTest {
    private static MontageEngine engine;

    @BeforeAll
    static void startEngine() {
        engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
    }

    @AfterAll
    static void closeEngine() {
        engine.close();
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT32", "FLOAT64", "FLOAT16", "UINT8", "INT32", "INT8", "INT64",
            "BOOLEAN", "COMPLEX64"})
    void passesTypesTheJniMaps(DataType type) {
        assertSame(type, Bf16Guard.check(type));
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"BFLOAT16", "UNKNOWN", "STRING", "INT16", "UINT16", "UINT32",
            "UINT64"})
    void rejectsTypesThatWouldAbort(DataType type) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Bf16Guard.check(type));

        assertTrue(e.getMessage().startsWith("DataType." + type.name() + " cannot be passed to DJL"), e.getMessage());
    }

    @Test
    void bf16RequestsPointToTheKernels() {
        IllegalArgumentException create = assertThrows(IllegalArgumentException.class,
                () -> Bf16Guard.create(engine.manager(), FloatBuffer.allocate(2), new Shape(2), DataType.BFLOAT16));
        IllegalArgumentException zeros = assertThrows(IllegalArgumentException.class,
                () -> Bf16Guard.zeros(engine.manager(), new Shape(2), DataType.BFLOAT16));
        IllegalArgumentException toType = assertThrows(IllegalArgumentException.class,
                () -> Bf16Guard.toType(engine.manager().ones(new Shape(2)), DataType.BFLOAT16, false));

        for (IllegalArgumentException e : new IllegalArgumentException[] {create, zeros, toType}) {
            assertTrue(e.getMessage().contains("Kernels.cast(x, ComputeDType.BFLOAT16)"), e.getMessage());
        }
    }

    @Test
    void bf16ArraysCannotHandTheirTypeBack() {
        NDArray bf16 = engine.kernels().cast(engine.manager().ones(new Shape(3)), ComputeDType.BFLOAT16);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Bf16Guard.checkArray(bf16, "softmax"));

        assertTrue(e.getMessage().startsWith("softmax of an array of shape (3) is not possible in DJL: "
                + "DataType.UNKNOWN cannot be passed"), e.getMessage());
    }

    @Test
    void mappedRequestsGoThrough() {
        NDArray created = Bf16Guard.create(engine.manager(), FloatBuffer.wrap(new float[] {1, 2}), new Shape(2),
                DataType.FLOAT32);
        NDArray bf16 = engine.kernels().cast(created, ComputeDType.BFLOAT16);

        assertEquals(DataType.FLOAT32, Bf16Guard.zeros(engine.manager(), new Shape(2), DataType.FLOAT32).getDataType());
        assertSame(created, Bf16Guard.checkArray(created, "softmax"));
        assertEquals(DataType.FLOAT32, Bf16Guard.toType(bf16, DataType.FLOAT32, false).getDataType());
    }
}
