package com.example.montage;

import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import javax.imageio.ImageIO;

/**
 * Composes a picture of a ball on the left half of a beach with Montage: {@code Compose [MODEL_FOLDER] OUT.png};
 * without a model folder, on the embedded tiny model (random weights, written once into {@code $MONTAGE_HOME} or
 * {@code ~/.cache/montage}).
 */
public final class Compose {
    private Compose() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: Compose [MODEL_FOLDER] OUT.png");
            System.exit(2);
        }
        MontagePipeline.Builder builder = args.length == 2 ? onModel(Path.of(args[0])) : onTinyModel();
        write(compose(builder, 64, 2), Path.of(args[args.length - 1]));
    }

    /** A model folder, on the CPU in float32. */
    static MontagePipeline.Builder onModel(Path model) {
        return MontagePipeline.builder()
                .setting("engine.device", "cpu")
                .setting("engine.dtype", "float32")
                .setting("models.base", model.toString());
    }

    /** The embedded tiny model: the shipped profile {@code tiny}; {@code MONTAGE_HOME} says where it is kept. */
    static MontagePipeline.Builder onTinyModel() {
        return MontagePipeline.builder().profile("tiny").environment(System.getenv());
    }

    /** One generation. */
    static BufferedImage compose(MontagePipeline.Builder builder, int size, int steps) throws Exception {
        try (MontagePipeline montage = builder.build()) {
            GenerationRequest request = montage.request("a ball on the beach")
                    .size(size, size)
                    .steps(steps)
                    .seed(42)
                    .subject(Subject.of(ball(), "ball.png", "ball", new Box(0, 0.25, 0.5, 0.75)))
                    .build();
            CompletableFuture<GenerationResult> result = montage.generateAsync(request,
                    (step, total, elapsed) -> {
                        System.out.printf("step %d/%d%n", step, total);
                        return true;
                    });
            return result.get().images().get(0);
        }
    }

    private static BufferedImage ball() {
        BufferedImage picture = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = picture.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 64, 64);
        g.setColor(Color.RED);
        g.fillOval(8, 8, 48, 48);
        g.dispose();
        return picture;
    }

    static void write(BufferedImage image, Path file) throws IOException {
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("no PNG writer");
        }
    }
}
