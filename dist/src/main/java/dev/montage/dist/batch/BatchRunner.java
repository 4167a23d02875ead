package dev.montage.dist.batch;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What runs {@code montage batch}: a manifest of requests in the API's vocabulary turned into images and a results
 * table. The distribution holds none; the Spark module provides one, found through {@link java.util.ServiceLoader}
 * when its jars are on the class path.
 */
public interface BatchRunner {
    /**
     * One batch.
     *
     * @param manifest   the manifest's path or URI: JSON Lines, or Parquet (a {@code .parquet} file or folder)
     * @param out        the output folder (shared by every machine of a cluster)
     * @param master     the Spark master URL; empty for the one the job was submitted with, else {@code local[*]}
     * @param profiles   the profile layers, weakest first: shipped names or files
     * @param settings   profile keys set on the command line
     * @param partitions how many tasks share the requests; empty for the runner's choice
     * @param failFast   whether one failed request fails the job
     */
    record Settings(String manifest, Path out, Optional<String> master, List<String> profiles,
            Map<String, String> settings, Optional<Integer> partitions, boolean failFast) {
        public Settings {
            profiles = List.copyOf(profiles);
            settings = Map.copyOf(settings);
        }
    }

    /**
     * Runs the batch, reporting progress and a summary on {@code err}.
     *
     * @return the exit code: 0 when every request succeeded (now or in an earlier run), 1 when some failed
     */
    int run(Settings settings, PrintWriter out, PrintWriter err) throws Exception;
}
