package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.weights.HalfFloats;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class Bf16PublicPathsTest {

    @Test
    void bf16ArraysThroughThePublicPathsNeverKillTheJvm() throws Exception {
        ForkedJvm.Result child = ForkedJvm.run(Bf16PublicPathsMain.class, List.of());

        assertEquals(0, child.exitCode(), child.output());
        List<String> lines = child.lines();
        for (String expected : List.of(
                "cast bfloat16 (1, 2, 2, 2)",
                "silu bfloat16 (1, 2, 2, 2)",
                "gelu exact bfloat16 (1, 2, 2, 2)",
                "gelu tanh bfloat16 (1, 2, 2, 2)",
                "group norm bfloat16 (1, 2, 2, 2)",
                "group norm affine bfloat16 (1, 2, 2, 2)",
                "attention bfloat16 (1, 2, 4, 8)",
                "attention bias bfloat16 (1, 2, 4, 8)",
                "silu values float32 " + Arrays.toString(bf16Silu(Bf16PublicPathsMain.INPUT)),
                "done")) {
            assertTrue(lines.contains(expected), "missing '" + expected + "' in:\n" + child.output());
        }
        for (String guarded : List.of("guard create", "guard zeros", "guard toType", "guard zeros like a bf16 array",
                "guard softmax")) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(guarded + " rejected: ") && l.contains("abort the JVM")),
                    "'" + guarded + "' was not rejected with the guard's message:\n" + child.output());
        }
    }

    /** silu computed in float32 and rounded once to bf16, as PyTorch's CPU kernel does for bf16 inputs. */
    private static float[] bf16Silu(float[] inputs) {
        float[] out = new float[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            float silu = (float) (inputs[i] / (1 + Math.exp(-inputs[i])));
            out[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(silu));
        }
        return out;
    }
}
