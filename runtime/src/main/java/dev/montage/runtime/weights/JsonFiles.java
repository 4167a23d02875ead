package dev.montage.runtime.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.config.ParserLimits;
import java.io.CharConversionException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/** Reads the JSON files of model folders, with errors that name the file. */
public final class JsonFiles {
    private static final ObjectMapper MAPPER = new ObjectMapper(ParserLimits.json());

    private JsonFiles() {
    }

    /**
     * Reads a JSON object.
     *
     * @throws IllegalArgumentException naming the file when it is missing, unreadable, not JSON, not an object, or
     *     beyond the {@link ParserLimits}
     */
    public static Map<String, Object> readObject(Path file) {
        try {
            return parse(file.toString(), ParserLimits.read(file, "a model configuration"));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + " is missing", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a JSON object a plugin ships as a resource.
     *
     * @throws IllegalArgumentException naming the resource when it is unreadable, not JSON or not an object
     */
    public static Map<String, Object> readObject(URL resource) {
        try (InputStream in = resource.openStream()) {
            return parse(resource.toString(), in.readNBytes(ParserLimits.MAX_FILE_BYTES));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + resource + ": " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String source, byte[] bytes) throws IOException {
        try {
            Object value = MAPPER.readValue(bytes, Object.class);
            if (!(value instanceof Map)) {
                throw new IllegalArgumentException(source + ": expected a JSON object, found "
                        + (value == null ? "null" : value.getClass().getSimpleName()));
            }
            return (Map<String, Object>) value;
        } catch (JsonProcessingException e) {
            int line = ParserLimits.line(e);
            throw new IllegalArgumentException(source + " is not valid JSON: " + e.getOriginalMessage()
                    + (line > 0 ? " (line " + line + ")" : ""), e);
        } catch (CharConversionException e) {
            throw new IllegalArgumentException(source + " is not valid JSON: " + e.getMessage() + " (UTF-8 expected)",
                    e);
        }
    }
}
