package dev.montage.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.dist.Montage;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage batch --master local[2]}: every output as {@code montage generate} makes it, and a re-run skips. */
class LocalBatchTest {
    @TempDir
    Path dir;

    @Test
    void batchMakesWhatGenerateMakesAndARunAgainSkipsWhatIsFinished() throws Exception {
        Path manifest = BatchManifest.write(dir);
        Path out = dir.resolve("out");
        String[] batch = {"batch", "--manifest", manifest.toString(), "--out", out.toString(), "--master",
            "local[2]", "--profile", "tiny"};
        assertEquals(1, Montage.run(batch), "one request fails, the job does not");
        Map<String, JsonNode> results = BatchManifest.checkOutputs(out);

        for (BatchManifest.Request r : BatchManifest.REQUESTS) {
            JsonNode row = results.values().stream().filter(x -> x.get("line").asLong()
                    == BatchManifest.REQUESTS.indexOf(r) + 1).findFirst().orElseThrow();
            if (BatchManifest.BAD_ID.equals(r.id())) {
                continue;
            }
            if (r.id() != null) {
                assertEquals(r.id(), row.get("id").asText());
            }
            long seed = row.get("seed").asLong();
            if (r.seed() != null) {
                assertEquals(r.seed().longValue(), seed);
            } else {
                assertEquals(ManifestRow.seed(row.get("id").asText()), seed, "a missing seed comes from the id");
            }
            Path generated = Files.createDirectories(dir.resolve("generate-" + row.get("line").asText()));
            List<String> flags = r.generateFlags(dir, seed);
            flags.addAll(List.of("-o", generated.toString()));
            assertEquals(0, Montage.run(flags.toArray(String[]::new)));
            List<Path> expected;
            try (Stream<Path> files = Files.list(generated)) {
                expected = files.sorted().toList();
            }
            assertEquals(r.count(), expected.size());
            assertEquals(r.count(), row.get("outputs").size());
            for (int n = 0; n < r.count(); n++) {
                assertArrayEquals(pixels(expected.get(n)), pixels(out.resolve(row.get("outputs").get(n).asText())),
                        "image " + n + " of " + row.get("id").asText());
            }
        }

        SparkSession spark = SparkSession.builder().master("local[1]").getOrCreate();
        try {
            assertEquals(BatchManifest.REQUESTS.size(), spark.read().parquet(out.resolve(SparkBatch.RESULTS_PARQUET)
                    .toString()).count());
        } finally {
            spark.stop();
        }

        Map<Path, FileTime> written = modified(out);
        assertEquals(1, Montage.run(batch), "the bad request fails again");
        Map<String, JsonNode> again = BatchManifest.checkOutputs(out);
        again.forEach((id, row) -> assertEquals(!id.equals(BatchManifest.BAD_ID), row.get("earlier").asBoolean(),
                row.toString()));
        Map<Path, FileTime> after = modified(out);
        written.forEach((file, time) -> {
            if (!file.getFileName().toString().startsWith("results")) {
                assertEquals(time, after.get(file), file + " was not written again");
            }
        });
        assertTrue(again.get("ball-1").get("seconds").asDouble() > 0);
    }

    private static int[] pixels(Path png) throws IOException {
        BufferedImage image = ImageIO.read(png.toFile());
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    private static Map<Path, FileTime> modified(Path out) throws IOException {
        Map<Path, FileTime> times = new HashMap<>();
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.toList()) {
                times.put(f, Files.getLastModifiedTime(f));
            }
        }
        return times;
    }
}
