package dev.montage.dist;

import dev.montage.dist.batch.BatchRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code montage batch}: a manifest of requests run on Apache Spark, through the Spark module's runner. */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = "Run a manifest of requests (JSON Lines or Parquet, in the server's request vocabulary) on "
                + "Apache Spark: images, a sidecar per request and a results table in the output folder. Needs the "
                + "Spark module (README, Batch on Spark).")
final class BatchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--manifest", required = true, paramLabel = "FILE|URI", description = "The requests: JSON Lines "
            + "(one request a line, optionally with an id) or Parquet with the same fields; pictures by file, "
            + "relative to the manifest.")
    String manifest;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output folder: ID-N.png, "
            + "ID.json, results.parquet/, results.jsonl. Requests with a sidecar there are skipped.")
    Path out;

    @Option(names = "--master", description = "Spark master: local[N], spark://HOST:PORT, ... (default: the one "
            + "spark-submit gives, else local[*]).")
    String master;

    @Option(names = "--profile", split = ",", paramLabel = "NAME|FILE", description = "Profiles, weakest first: "
            + "shipped names or YAML/JSON files, shipped with the job.")
    List<String> profiles = new ArrayList<>();

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set a profile key (repeatable).")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--partitions", description = "Tasks the requests are shared among (default: up to four per "
            + "core of the cluster).")
    Integer partitions;

    @Option(names = "--fail-fast", description = "Fail the job on the first request that fails, instead of "
            + "recording its error and going on.")
    boolean failFast;

    @Override
    public Integer call() throws Exception {
        BatchRunner runner = ServiceLoader.load(BatchRunner.class, BatchCommand.class.getClassLoader()).findFirst()
                .orElseThrow(() -> new IllegalStateException("montage batch runs on Apache Spark, which is not on "
                        + "this class path: build the Spark module (mvn -pl dist/spark -am package) and run "
                        + "dist/spark/target/montage-spark/bin/montage-batch, or submit dev.montage.spark.BatchJob "
                        + "with spark-submit (README, Batch on Spark)"));
        return runner.run(new BatchRunner.Settings(manifest, out, Optional.ofNullable(master), profiles, settings,
                Optional.ofNullable(partitions), failFast), spec.commandLine().getOut(), spec.commandLine().getErr());
    }
}
