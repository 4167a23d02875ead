package dev.montage.dist;

import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The model used when no model is configured: the recipe's tiny random model ({@code models.random: tiny}), which the
 * pipeline writes once into Montage's cache folder ({@code $MONTAGE_HOME}, default {@code ~/.cache/montage}).
 */
final class EmbeddedModel {
    /** The random model the commands fall back on. */
    static final String NAME = "tiny";

    private EmbeddedModel() {
    }

    /** The base folder of a pipeline when it holds random weights. */
    static Optional<Path> random(MontagePipeline assembled) {
        return assembled.profile().profile().models().base()
                .filter(b -> Files.isRegularFile(b.resolve(RandomModel.MARKER)));
    }

    /** Says, before it starts, that a random model is being written into the cache folder (once). */
    static Consumer<Path> announceWrite(PrintWriter err) {
        return folder -> {
            err.println("montage: writing the model with RANDOM weights into " + folder + " (once: later runs read it "
                    + "from there)");
            err.flush();
        };
    }

    /** Says plainly that a pipeline's weights are random, when they are. */
    static void warnIfRandom(MontagePipeline assembled, PrintWriter err) {
        random(assembled).ifPresent(folder -> err.println("montage: using the model " + folder + " with RANDOM "
                + "weights: images show noise, not subjects; configure real weights in a profile, models.base, or "
                + "with --model"));
    }
}
