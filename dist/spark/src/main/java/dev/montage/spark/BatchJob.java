package dev.montage.spark;

import dev.montage.dist.Montage;
import java.util.stream.Stream;

/**
 * What {@code spark-submit --class dev.montage.spark.BatchJob} runs: {@code montage batch} with the given arguments,
 * on the master spark-submit chose unless {@code --master} names another, as the {@code montage} command runs it
 * (native libraries' notices filtered from standard error).
 */
public final class BatchJob {
    private BatchJob() {
    }

    public static void main(String[] args) {
        Montage.main(Stream.concat(Stream.of("batch"), Stream.of(args)).toArray(String[]::new));
    }
}
