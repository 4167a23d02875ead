package dev.montage.spark;

import dev.montage.dist.Montage;
import java.util.stream.Stream;

/**
 * What {@code spark-submit --class dev.montage.spark.BatchJob} runs: {@code montage batch} with the given arguments,
 * on the master spark-submit chose unless {@code --master} names another.
 */
public final class BatchJob {
    private BatchJob() {
    }

    public static void main(String[] args) {
        System.exit(Montage.run(Stream.concat(Stream.of("batch"), Stream.of(args)).toArray(String[]::new)));
    }
}
