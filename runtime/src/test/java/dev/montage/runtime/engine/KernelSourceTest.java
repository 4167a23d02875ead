package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.montage.runtime.testing.TestEngine;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The kernel resources: each one reads and compiles, and filling a source checks its placeholders. */
class KernelSourceTest {
    private static final Path RESOURCES = Path.of("src/main/resources/dev/montage/runtime/engine",
            KernelSource.FOLDER);
    /** A value for each placeholder a kernel resource may have besides the dtypes; an unknown one fails the test. */
    private static final Map<String, Object> SAMPLES = samples();

    @Test
    void everyKernelResourceReadsAndCompiles() throws IOException {
        List<String> names;
        try (Stream<Path> files = Files.list(RESOURCES)) {
            names = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".py"))
                    .map(n -> n.substring(0, n.length() - ".py".length())).sorted().toList();
        }
        assertFalse(names.isEmpty(), "no kernel resources under " + RESOURCES);
        Pattern placeholder = Pattern.compile("\\$\\{([a-z0-9_]+)}");
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            for (String name : names) {
                String text = Files.readString(RESOURCES.resolve(name + ".py"));
                Map<String, Object> values = new HashMap<>();
                for (Matcher m = placeholder.matcher(text); m.find(); ) {
                    String key = m.group(1);
                    if (SAMPLES.containsKey(key)) {
                        values.put(key, SAMPLES.get(key));
                    }
                }
                String source = KernelSource.read(name).fill(values);
                assertFalse(source.contains("${"), name + ": " + source);
                byte[] archive = TorchScriptArchive.withMethods(source);
                assertDoesNotThrow(() -> JniUtils.loadModule((PtNDManager) manager, new ByteArrayInputStream(archive),
                        true, false).close(), name);
            }
        }
    }

    @Test
    void aSourceIsIndentedAsTheBodyOfTheKernelClass() {
        assertEquals("  def forward(self, x: Tensor) -> Tensor:\n    return torch.to(x, 15)\n",
                KernelSource.read("cast").fill(Map.of("dtype", ScalarType.BFLOAT16.id())));
    }

    @Test
    void dtypePlaceholdersAreFilledWithTheirScalarTypeIds() {
        String source = KernelSource.fixed("few_keys_attention");
        // the softmax accumulates in float32, c10::ScalarType::Float
        assertTrue(source.contains(", -1, 6), q.dtype)"), source);
        assertEquals(List.of(5, 6, 15), Stream.of(ScalarType.values()).map(ScalarType::id).toList());
    }

    @Test
    void aMissingResourceIsNamed() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelSource.read("no_such"));
        assertTrue(e.getMessage().contains("dev/montage/runtime/engine/kernels/no_such.py"), e.getMessage());
    }

    @Test
    void fillingNamesTheResourceAndThePlaceholderWithoutAValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KernelSource.read("cast").fill(Map.of()));
        assertTrue(e.getMessage().contains("kernels/cast.py") && e.getMessage().contains("${dtype}"), e.getMessage());
    }

    @Test
    void fillingRejectsAValueTheSourceHasNoPlaceholderFor() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KernelSource.read("cast").fill(Map.of("dtype", 6, "groups", 2)));
        assertTrue(e.getMessage().contains("[groups]"), e.getMessage());
    }

    @Test
    void anOptionalTensorIsDeclaredAndPassedOnOnlyWhenPresent() {
        assertEquals(Map.of("b_param", "", "b", "None"), KernelSource.optionalTensor("b", false, "6"));
        assertEquals(Map.of("b_param", ", b: Tensor", "b", "torch.to(b, 6)"),
                KernelSource.optionalTensor("b", true, "6"));
        assertEquals(Map.of("b_param", ", b: Tensor", "b", "b"), KernelSource.optionalTensor("b", true, null));
    }

    private static Map<String, Object> samples() {
        Map<String, Object> values = new HashMap<>(Map.of("groups", 2, "eps", 1e-5, "stride", 1, "padding", 1,
                "chunk_scores", TorchScriptKernels.CHUNK_SCORES, "dtype", ScalarType.FLOAT.id()));
        values.putAll(KernelSource.optionalTensor("weight", true, "x.dtype"));
        values.putAll(KernelSource.optionalTensor("bias", true, "x.dtype"));
        values.putAll(KernelSource.optionalTensor("b", true, null));
        return Map.copyOf(values);
    }
}
