package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The api states contracts that every host keeps; which backend a host uses, on which CPU, and how fast, belongs to
 * that host's implementation. A scan of the api's sources for backend and CPU names and measured figures keeps it so.
 */
class EngineNeutralSourcesTest {
    private static final Path SOURCES = Path.of("src/main/java");
    private static final Pattern ENGINE_DETAIL = Pattern.compile(
            "\\b(onednn|mkldnn|mkl|cudnn|avx[\\w-]*|amx[\\w-]*|zen ?\\d*|xeon|epyc|intel|amd|benchmarks\\.md)\\b"
                    + "|\\bpytorch \\d|\\d\\s?%|\\b\\d+(?:[.,]\\d+)?\\s?(?:ms|µs|us|ns)\\b",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

    @Test
    void apiSourcesNameNoBackendCpuOrTiming() throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            files.filter(f -> f.toString().endsWith(".java")).sorted().forEach(f -> found.addAll(details(f)));
        }
        assertEquals(List.of(), found);
    }

    @Test
    void theScanRecognisesWhatItRejects() {
        for (String text : new String[] {"oneDNN's blocked layout", "an AMD Zen 5", "on CPUs with AMX",
                "PyTorch 2.7.1 multiplies", "3–23 % faster", "took 2.39 ms"}) {
            assertTrue(ENGINE_DETAIL.matcher(text).find(), text);
        }
        for (String text : new String[] {"amends the layout", "[out, in]", "a summary", "diffusion_pytorch_model"}) {
            assertFalse(ENGINE_DETAIL.matcher(text).find(), text);
        }
    }

    private static List<String> details(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> found = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = ENGINE_DETAIL.matcher(lines.get(i));
            while (m.find()) {
                found.add(SOURCES.relativize(file) + ":" + (i + 1) + ": " + m.group());
            }
        }
        return found;
    }
}
