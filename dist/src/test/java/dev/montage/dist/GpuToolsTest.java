package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The scripts of {@code tools/gpu} parse as bash and refuse what they do not understand, naming it, before doing any
 * work: they run where a failure costs a GPU machine's time; the tests they select exist. (Their work itself is
 * checked by running them; see README's GPU section.)
 */
class GpuToolsTest {
    private static final Path TOOLS = Path.of("..", "tools", "gpu");

    private record Run(int code, String err) {
    }

    private static Run bash(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(1, TimeUnit.MINUTES), "bash " + String.join(" ", args) + " ran over a minute");
        return new Run(process.exitValue(), err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"prepare", "check", "build-jni"})
    void parses(String script) throws Exception {
        Run run = bash("-n", TOOLS.resolve(script).toString());
        assertEquals(0, run.code(), run.err());
    }

    /**
     * The golden generations that the build runs again in bf16 and float16 and {@code check} runs on CUDA: a renamed
     * test would otherwise drop out of both without a failure.
     */
    @Test
    void theGoldenGenerationsListNamesTestsThatExist() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("src", "test", "resources", "golden-generations.txt"));
        int tests = 0;
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.strip().split("#", 2);
            Class<?> type = Class.forName(parts[0]);
            boolean named = Arrays.stream(type.getDeclaredMethods()).anyMatch(m -> m.isAnnotationPresent(Test.class)
                    && (parts.length == 1 || m.getName().equals(parts[1])));
            assertTrue(named, line + " names no test");
            tests++;
        }
        assertTrue(tests >= 6, "golden-generations.txt lists " + tests + " tests");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "prepare   | --gloden x | prepare: unknown argument '--gloden'",
        "check     | --devcie x | check: unknown argument '--devcie'",
        "build-jni | --torhc x  | build-jni: unknown argument '--torhc'",
        "build-jni | --src x    | build-jni: --src, --torch and --out are required"})
    void refusesWhatItDoesNotKnow(String script, String argument, String message) throws Exception {
        String[] words = argument.split(" ");
        Run run = bash(TOOLS.resolve(script).toString(), words[0], words[1]);
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().startsWith(message), run.err());
    }
}
