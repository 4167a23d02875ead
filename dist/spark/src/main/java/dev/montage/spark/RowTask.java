package dev.montage.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationResult;
import dev.montage.api.InvalidRequestException;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ModelHashes;
import dev.montage.dist.server.RequestJson;
import dev.montage.dist.server.ResultFiles;
import dev.montage.dist.server.ServerSettings;
import dev.montage.runtime.pipeline.MontagePipeline;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.util.LongAccumulator;

/**
 * The work of one task: each request of its partition run on the executor's pipeline, its images and sidecar
 * written under its id, one result row each. A request whose sidecar is there already (an earlier run, or an
 * attempt of this task on an executor that was lost) is not run again. A failed request is a failed row, not a
 * failed task, unless the job is to fail fast.
 */
final class RowTask implements FlatMapFunction<Iterator<ManifestRow>, RowResult> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What the driver counts as tasks report (Spark's accumulators). */
    record Counters(LongAccumulator succeeded, LongAccumulator failed, LongAccumulator earlier,
            LongAccumulator images) implements Serializable {
    }

    private final JobProfile profile;
    private final String out;
    private final URI manifestFolder;
    private final boolean failFast;
    private final Counters counters;

    RowTask(JobProfile profile, Path out, URI manifestFolder, boolean failFast, Counters counters) {
        this.profile = profile;
        this.out = out.toAbsolutePath().toString();
        this.manifestFolder = manifestFolder;
        this.failFast = failFast;
        this.counters = counters;
    }

    @Override
    public Iterator<RowResult> call(Iterator<ManifestRow> rows) throws Exception {
        Path dir = Files.createDirectories(Path.of(out));
        MontagePipeline pipeline = null;
        RequestJson requests = null;
        ModelHashes hashes = new ModelHashes(ModelHashes.cacheFolder());
        List<RowResult> results = new ArrayList<>();
        while (rows.hasNext()) {
            ManifestRow row = rows.next();
            Path sidecar = ResultFiles.sidecar(dir, row.id());
            if (Files.isRegularFile(sidecar)) {
                results.add(RowResult.fromSidecar(row, sidecar));
                counters.earlier().add(1);
                continue;
            }
            if (pipeline == null) {
                pipeline = profile.pipeline(TaskContext.get().cpus());
                requests = RequestJson.forPipeline(pipeline, ServerSettings.builder().build(),
                        new ManifestPictures(manifestFolder));
            }
            RowResult result;
            try {
                result = run(row, pipeline, requests, hashes, dir);
                counters.succeeded().add(1);
                counters.images().add(result.outputs().size());
            } catch (InvalidRequestException e) {
                result = failure(row, e.errors().stream().map(RowTask::describe).collect(Collectors.joining("; ")),
                        e);
            } catch (Exception e) {
                result = failure(row, e.getClass().getSimpleName() + ": " + e.getMessage(), e);
            }
            results.add(result);
        }
        return results.iterator();
    }

    private RowResult failure(ManifestRow row, String error, Exception cause) {
        counters.failed().add(1);
        if (failFast) {
            throw new IllegalStateException("request " + row.id() + " (line " + row.line() + ") failed: " + error,
                    cause);
        }
        return RowResult.failed(row, error);
    }

    private static String describe(FieldError e) {
        return e.field() == null ? e.message() : e.field() + ": " + e.message();
    }

    private static RowResult run(ManifestRow row, MontagePipeline pipeline, RequestJson requests, ModelHashes hashes,
            Path dir) throws Exception {
        ObjectNode body = (ObjectNode) JSON.readTree(row.json());
        body.remove(ManifestRow.ID);
        if (!body.hasNonNull("seed")) {
            body.put("seed", ManifestRow.seed(row.id()));
        }
        RequestJson.Parsed parsed = requests.parse(body);
        Instant started = Instant.now();
        GenerationResult result = pipeline.generate(parsed.request());
        List<String> files = new ArrayList<>();
        for (int n = 0; n < result.images().size(); n++) {
            files.add(ResultFiles.image(row.id(), n));
        }
        Instant finished = Instant.now();
        Map<String, Object> generation = new LinkedHashMap<>();
        generation.put("id", row.id());
        generation.put("startedAt", started.toString());
        generation.put("finishedAt", finished.toString());
        generation.put("files", files);
        Map<String, Object> record = GenerationRecord.of(parsed.parameters(), result.parameters(), hashes,
                generation);
        ResultFiles.write(dir, row.id(), result.images(), GenerationRecord.pngChunks(result.request(), record),
                JSON.writeValueAsBytes(record));
        return new RowResult(row.id(), row.line(), RowResult.SUCCEEDED, files, parsed.request().seed(),
                started.toString(), finished.toString(), Duration.between(started, finished).toNanos() / 1e9, null,
                false);
    }
}
