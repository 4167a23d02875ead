package dev.montage.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.dist.batch.BatchRunner;
import dev.montage.dist.server.ResultFiles;
import dev.montage.runtime.output.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * {@code montage batch} on Spark. The driver reads the manifest, gives each request its id, reports rows that are
 * wrong before any model is asked and those an earlier run finished, and shares the rest among tasks
 * ({@link RowTask}); at the end it writes the results table of every row, {@code results.parquet} through Spark
 * and {@code results.jsonl}, and a summary.
 */
public final class SparkBatch implements BatchRunner {
    /** The results table's names in the output folder. */
    static final String RESULTS_PARQUET = "results.parquet";
    static final String RESULTS_JSONL = "results.jsonl";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TASKS_PER_CORE = 4;

    @Override
    public int run(Settings settings, PrintWriter out, PrintWriter err) throws Exception {
        long start = System.nanoTime();
        Path dir = Files.createDirectories(settings.out().toAbsolutePath());
        AtomicFiles.deleteLeftovers(dir);
        JobProfile profile = JobProfile.read(settings.profiles(), settings.settings());
        // the whole configuration is checked here, before Spark starts or any weight is read
        profile.builder(1).resolve();
        SparkSession.Builder builder = SparkSession.builder().appName("montage batch");
        settings.master().ifPresentOrElse(builder::master, () -> {
            if (!new SparkConf().contains("spark.master")) {
                builder.master("local[*]");
            }
        });
        SparkSession spark = builder.getOrCreate();
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            org.apache.hadoop.fs.Path manifest = new org.apache.hadoop.fs.Path(settings.manifest());
            manifest = manifest.getFileSystem(sc.hadoopConfiguration()).makeQualified(manifest);
            URI manifestFolder = URI.create(manifest.getParent().toUri() + "/");
            List<ManifestRow> rows = rows(spark, manifest.toString());
            List<RowResult> results = new ArrayList<>();
            List<ManifestRow> todo = new ArrayList<>();
            for (ManifestRow row : rows) {
                Path sidecar = ResultFiles.sidecar(dir, row.id());
                if (row.problem() != null) {
                    results.add(RowResult.failed(row, row.problem()));
                } else if (Files.isRegularFile(sidecar)) {
                    results.add(RowResult.fromSidecar(row, sidecar));
                } else {
                    todo.add(row);
                }
            }
            if (settings.failFast() && !results.stream().allMatch(r -> r.error() == null)) {
                throw new IllegalArgumentException("the manifest has invalid rows: " + results.stream()
                        .filter(r -> r.error() != null).map(r -> "line " + r.line() + " " + r.error()).toList());
            }
            err.printf(Locale.ROOT, "montage: batch of %d request(s): %d to run, %d finished earlier, %d invalid%n",
                    rows.size(), todo.size(), results.stream().filter(RowResult::earlier).count(),
                    results.stream().filter(r -> r.error() != null).count());
            err.flush();
            if (!todo.isEmpty()) {
                results.addAll(generate(sc, settings, profile, dir, manifestFolder, todo, err));
            }
            results.sort(Comparator.comparingLong(RowResult::line));
            writeResults(spark, dir, results);
            return summary(results, (System.nanoTime() - start) / 1e9, dir, err);
        } finally {
            spark.stop();
            AtomicFiles.deleteLeftovers(dir);
        }
    }

    /** Every non-blank row of the manifest with its id; a repeated id is a problem of the later rows. */
    private static List<ManifestRow> rows(SparkSession spark, String manifest) {
        Dataset<String> json = manifest.endsWith(".parquet") ? spark.read().parquet(manifest).toJSON()
                : spark.read().textFile(manifest);
        List<Tuple2<String, Long>> lines = json.javaRDD().zipWithIndex().collect();
        Map<String, Long> seen = new HashMap<>();
        List<ManifestRow> rows = new ArrayList<>();
        for (Tuple2<String, Long> line : lines) {
            if (line._1().isBlank()) {
                continue;
            }
            ManifestRow row = ManifestRow.parse(line._2() + 1, line._1());
            Long first = seen.putIfAbsent(row.id(), row.line());
            rows.add(first == null ? row : row.withProblem("id: '" + row.id() + "' is also the id of line " + first
                    + "; ids name the files, so each must be unique"));
        }
        return rows;
    }

    private static List<RowResult> generate(JavaSparkContext sc, Settings settings, JobProfile profile, Path dir,
            URI manifestFolder, List<ManifestRow> todo, PrintWriter err) {
        RowTask.Counters counters = new RowTask.Counters(sc.sc().longAccumulator("montage.succeeded"),
                sc.sc().longAccumulator("montage.failed"), sc.sc().longAccumulator("montage.earlier"),
                sc.sc().longAccumulator("montage.images"));
        int partitions = settings.partitions().orElse(Math.min(todo.size(), TASKS_PER_CORE * sc.defaultParallelism()));
        SparkListener progress = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
                long done = counters.succeeded().value() + counters.failed().value() + counters.earlier().value();
                err.printf(Locale.ROOT, "montage: %d/%d requests (%d succeeded, %d failed, %d found finished), "
                        + "task %d %s%n", done, todo.size(), counters.succeeded().value(), counters.failed().value(),
                        counters.earlier().value(), taskEnd.taskInfo().index(), taskEnd.reason());
                err.flush();
            }
        };
        sc.sc().addSparkListener(progress);
        try {
            return sc.parallelize(todo, Math.max(1, partitions))
                    .mapPartitions(new RowTask(profile, dir, manifestFolder, settings.failFast(), counters))
                    .collect();
        } finally {
            sc.sc().removeSparkListener(progress);
        }
    }

    private static void writeResults(SparkSession spark, Path dir, List<RowResult> results) throws IOException {
        spark.createDataFrame(results.stream().map(RowResult::row).toList(), RowResult.SCHEMA).coalesce(1).write()
                .mode(SaveMode.Overwrite).parquet(dir.resolve(RESULTS_PARQUET).toUri().toString());
        ByteArrayOutputStream jsonl = new ByteArrayOutputStream();
        for (RowResult r : results) {
            jsonl.write(JSON.writeValueAsBytes(r.json()));
            jsonl.write('\n');
        }
        AtomicFiles.write(dir.resolve(RESULTS_JSONL), jsonl.toByteArray());
    }

    private static int summary(List<RowResult> results, double seconds, Path dir, PrintWriter err) {
        long succeeded = results.stream().filter(r -> r.error() == null).count();
        long earlier = results.stream().filter(RowResult::earlier).count();
        long images = results.stream().filter(r -> !r.earlier()).mapToLong(r -> r.outputs().size()).sum();
        long failed = results.size() - succeeded;
        err.printf(Locale.ROOT, "montage: %d succeeded (%d of them earlier), %d failed; %d new image(s) in %.1f s "
                + "(%.2f requests/s); results in %s%n", succeeded, earlier, failed, images, seconds,
                (succeeded - earlier) / seconds, dir.resolve(RESULTS_JSONL));
        results.stream().filter(r -> r.error() != null).forEach(r -> err.printf("montage: line %d (%s): %s%n",
                r.line(), r.id(), r.error()));
        err.flush();
        return failed == 0 ? 0 : 1;
    }
}
