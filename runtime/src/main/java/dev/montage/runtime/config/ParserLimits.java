package dev.montage.runtime.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * The limits under which the profiles and the model configuration files ({@code config.json},
 * {@code model_index.json}) are read, so that a broken or hostile file is refused with its name instead of
 * exhausting the stack or the heap, or holding a thread for minutes: at most {@value #MAX_FILE_BYTES} bytes, checked
 * before the file is read, and objects and arrays nested at most {@value #MAX_DEPTH} deep.
 */
public final class ParserLimits {
    /** Bytes a profile or model configuration may have: 1 MiB; real ones have a few KiB. */
    public static final int MAX_FILE_BYTES = 1 << 20;
    /** How deep objects and arrays may nest: 64; profiles and configurations nest at most 4 deep. */
    public static final int MAX_DEPTH = 64;

    private static final StreamReadConstraints CONSTRAINTS = StreamReadConstraints.builder()
            .maxNestingDepth(MAX_DEPTH)
            .maxDocumentLength(MAX_FILE_BYTES)
            .maxStringLength(MAX_FILE_BYTES)
            .build();

    private ParserLimits() {
    }

    /** A JSON parser factory with these limits. */
    public static JsonFactory json() {
        return JsonFactory.builder().streamReadConstraints(CONSTRAINTS).build();
    }

    /** A YAML parser factory with these limits. */
    public static YAMLFactory yaml() {
        LoaderOptions loader = new LoaderOptions();
        loader.setNestingDepthLimit(MAX_DEPTH);
        loader.setCodePointLimit(MAX_FILE_BYTES);
        return YAMLFactory.builder().loaderOptions(loader).streamReadConstraints(CONSTRAINTS).build();
    }

    /**
     * Reads a whole file after checking its size.
     *
     * @param what what the file is, for the message ("a profile")
     * @throws IllegalArgumentException naming the file, the limit and its size when it is larger
     */
    public static byte[] read(Path file, String what) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IllegalArgumentException(file + " is larger than the " + MAX_FILE_BYTES + " bytes " + what
                    + " may have (" + size + " bytes)");
        }
        return Files.readAllBytes(file);
    }

    /** The line a parse error was found at; 0 where the parser knows none (some limits are checked without one). */
    public static int line(JsonProcessingException e) {
        return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
    }
}
