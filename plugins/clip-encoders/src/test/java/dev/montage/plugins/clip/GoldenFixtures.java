package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.StreamSupport;

/** The reference fixtures, read in place from {@code montage.golden.dir} (never copied into the project). */
final class GoldenFixtures {

    private static final Path DIR = Path.of(System.getProperty("montage.golden.dir", "../shared/golden"));
    private static final Map<String, ClipTokenizer> TOKENIZERS = new ConcurrentHashMap<>();

    private GoldenFixtures() {
    }

    /** Skips the calling test (or, from {@code @BeforeAll}, its class) when the golden folder is absent. */
    static void assumePresent() {
        assumeTrue(Files.isDirectory(DIR), "skipped: no golden folder");
    }

    /** The folder {@code tiny-sdxl-msd/tokenizer} or {@code tiny-sdxl-msd/tokenizer_2}. */
    static Path tokenizerFolder(String name) {
        return DIR.resolve("tiny-sdxl-msd").resolve(name);
    }

    /** {@code tiny-sdxl-msd/tokenizer} or {@code tiny-sdxl-msd/tokenizer_2}, loaded once per test run. */
    static ClipTokenizer tokenizer(String name) {
        return TOKENIZERS.computeIfAbsent(name, folder -> {
            try {
                return ClipTokenizer.load(tokenizerFolder(folder));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** The {@code tokenizer} case's JSON. */
    static JsonNode tokenizerCase() {
        try {
            return new ObjectMapper().readTree(DIR.resolve("cases/tokenizer/tokenizer.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::intValue).toArray();
    }

    static List<String> strings(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::textValue).toList();
    }

    /** A prompt as a readable test name: control and separator characters escaped. */
    static String displayName(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.codePoints().forEach(cp -> {
            int type = Character.getType(cp);
            boolean invisible = Character.isISOControl(cp) || type == Character.FORMAT
                    || (Character.isSpaceChar(cp) && cp != ' ');
            out.append(invisible ? String.format("\\u%04x", cp) : Character.toString(cp));
        });
        String name = out.append('"').toString();
        return name.length() > 80 ? name.substring(0, 77) + "...\"" : name;
    }
}
