package dev.montage.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.dist.record.GenerationRecord;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A row of the results table.
 *
 * @param id         the request's id
 * @param line       its line in the manifest, from 1
 * @param status     {@code succeeded} or {@code failed}
 * @param outputs    its images, relative to the output folder
 * @param seed       the seed it ran with
 * @param startedAt  when its generation started (ISO-8601)
 * @param finishedAt when its files were written
 * @param seconds    the generation's wall time
 * @param error      why it failed: {@code field: message} for each invalid field, else the exception
 * @param earlier    whether an earlier run (or an earlier attempt of a task) made it
 */
record RowResult(String id, long line, String status, List<String> outputs, Long seed, String startedAt,
        String finishedAt, Double seconds, String error, boolean earlier) implements Serializable {
    static final String SUCCEEDED = "succeeded";
    static final String FAILED = "failed";
    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.StringType, false)
            .add("line", DataTypes.LongType, false)
            .add("status", DataTypes.StringType, false)
            .add("outputs", DataTypes.createArrayType(DataTypes.StringType), false)
            .add("seed", DataTypes.LongType, true)
            .add("startedAt", DataTypes.StringType, true)
            .add("finishedAt", DataTypes.StringType, true)
            .add("seconds", DataTypes.DoubleType, true)
            .add("error", DataTypes.StringType, true)
            .add("earlier", DataTypes.BooleanType, false);
    private static final ObjectMapper JSON = new ObjectMapper();

    RowResult {
        outputs = List.copyOf(outputs);
    }

    static RowResult failed(ManifestRow row, String error) {
        return new RowResult(row.id(), row.line(), FAILED, List.of(), null, null, null, null, error, false);
    }

    /** The result a sidecar records: a request finished before. */
    @SuppressWarnings("unchecked")
    static RowResult fromSidecar(ManifestRow row, Path sidecar) throws IOException {
        Map<String, Object> record = JSON.readValue(sidecar.toFile(), Map.class);
        Map<String, Object> montage = (Map<String, Object>) record.get(GenerationRecord.MONTAGE);
        String started = (String) montage.get("startedAt");
        String finished = (String) montage.get("finishedAt");
        return new RowResult(row.id(), row.line(), SUCCEEDED, (List<String>) montage.get("files"),
                ((Number) record.get("seed")).longValue(), started, finished,
                Duration.between(Instant.parse(started), Instant.parse(finished)).toNanos() / 1e9, null, true);
    }

    Row row() {
        return RowFactory.create(id, line, status, outputs.toArray(String[]::new), seed, startedAt, finishedAt,
                seconds, error, earlier);
    }

    /** The row as a line of {@code results.jsonl}, the same fields as the Parquet table's. */
    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("line", line);
        m.put("status", status);
        m.put("outputs", outputs);
        m.put("seed", seed);
        m.put("startedAt", startedAt);
        m.put("finishedAt", finishedAt);
        m.put("seconds", seconds);
        m.put("error", error);
        m.put("earlier", earlier);
        return m;
    }
}
