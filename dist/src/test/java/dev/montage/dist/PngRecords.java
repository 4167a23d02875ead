package dev.montage.dist;

import dev.montage.dist.record.GenerationRecord;
import dev.montage.runtime.output.PngFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** The record a Montage PNG carries in its {@code montage} chunk, for tests. */
public final class PngRecords {
    private PngRecords() {
    }

    /** The whole record: the request in the API's names and the {@code montage} object. */
    public static Map<String, Object> record(Path png) throws IOException {
        try (InputStream in = Files.newInputStream(png)) {
            return record(in);
        }
    }

    public static Map<String, Object> record(InputStream png) throws IOException {
        return GenerationRecord.fromPng(PngFiles.readParameters(png)).orElseThrow(
                () -> new AssertionError("the PNG has no montage chunk"));
    }

    /** What made the result: the pipeline's components, models, scheduler and controls' settings. */
    @SuppressWarnings("unchecked")
    public static Map<String, String> pipeline(InputStream png) throws IOException {
        return (Map<String, String>) ((Map<String, Object>) record(png).get(GenerationRecord.MONTAGE)).get("pipeline");
    }
}
