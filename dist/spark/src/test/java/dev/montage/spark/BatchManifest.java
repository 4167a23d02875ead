package dev.montage.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * The tests' manifest: a dozen small requests on the tiny model (64x64, 2 steps), with and without ids, seeds and
 * subjects, one of two images, one from a picture, and one bad row (an unknown scheduler); pictures beside it, named
 * relative to it.
 */
final class BatchManifest {
    static final int SIZE = 64;
    static final int STEPS = 2;
    static final String BAD_ID = "bad-scheduler";
    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One request: what the manifest row says, and {@code montage generate}'s flags for the same request.
     *
     * @param initImage the picture it starts from at strength 0.5, or null
     */
    record Request(String id, String prompt, Long seed, int count, List<String> subjects, String scheduler,
            String initImage) {
        Request(String id, String prompt, Long seed, int count, List<String> subjects, String scheduler) {
            this(id, prompt, seed, count, subjects, scheduler, null);
        }

        Map<String, Object> row() {
            Map<String, Object> row = new LinkedHashMap<>();
            if (id != null) {
                row.put("id", id);
            }
            row.put("prompt", prompt);
            row.put("width", SIZE);
            row.put("height", SIZE);
            row.put("steps", STEPS);
            if (seed != null) {
                row.put("seed", seed);
            }
            if (count != 1) {
                row.put("count", count);
            }
            if (scheduler != null) {
                row.put("scheduler", scheduler);
            }
            List<Map<String, Object>> s = new ArrayList<>();
            for (String picture : subjects) {
                s.add(Map.of("file", "pictures/" + picture + ".png", "phrase", picture,
                        "box", picture.equals("ball") ? List.of(0.05, 0.3, 0.45, 0.7) : List.of(0.55, 0.3, 0.95, 0.7)));
            }
            if (!s.isEmpty()) {
                row.put("subjects", s);
            }
            if (initImage != null) {
                row.put("initImage", Map.of("file", "pictures/" + initImage + ".png", "strength", 0.5));
            }
            return row;
        }

        List<String> generateFlags(Path folder, long effectiveSeed) {
            List<String> flags = new ArrayList<>(List.of("generate", "--profile", "tiny", "--set", "engine.threads=1",
                    "--prompt", prompt, "--width", "" + SIZE, "--height", "" + SIZE, "--steps", "" + STEPS, "--seed",
                    "" + effectiveSeed, "--count", "" + count, "-q"));
            if (scheduler != null) {
                flags.addAll(List.of("--scheduler", scheduler));
            }
            for (String picture : subjects) {
                flags.addAll(List.of("--subject", "image=" + folder.resolve("pictures/" + picture + ".png") + ",phrase="
                        + picture + ",box=" + (picture.equals("ball") ? "0.05,0.3,0.45,0.7" : "0.55,0.3,0.95,0.7")));
            }
            if (initImage != null) {
                flags.addAll(List.of("--init-image", folder.resolve("pictures/" + initImage + ".png").toString(),
                        "--strength", "0.5"));
            }
            return flags;
        }
    }

    static final List<Request> REQUESTS = List.of(
            new Request("ball-1", "a ball and a cube on a table", 11L, 1, List.of("ball", "cube"), null),
            new Request("ball-2", "a ball on the grass", 12L, 1, List.of("ball"), null),
            new Request(null, "a cube in the snow", 13L, 1, List.of("cube"), null),
            new Request(null, "a ball near the sea", null, 1, List.of("ball"), null),
            new Request("two-images", "a red ball", 15L, 2, List.of("ball"), null),
            new Request("no-subjects", "an empty table", 16L, 1, List.of(), null),
            new Request("ddim", "a ball and a cube", 17L, 1, List.of("ball", "cube"), "ddim"),
            new Request("drawn-seed", "a cube on a chair", null, 1, List.of("cube"), null),
            new Request(null, "a ball under a tree", 19L, 1, List.of("ball"), null),
            new Request("cube-10", "a cube on a shelf", 20L, 1, List.of("cube"), null),
            new Request("from-a-picture", "a cube and a ball", 21L, 1, List.of("cube", "ball"), null, "ball"),
            new Request(BAD_ID, "a ball", 22L, 1, List.of("ball"), "no-such-scheduler"));

    private BatchManifest() {
    }

    /** Writes the pictures and {@code manifest.jsonl} into {@code folder}; returns the manifest. */
    static Path write(Path folder) throws IOException {
        Files.createDirectories(folder.resolve("pictures"));
        picture(folder.resolve("pictures/ball.png"), new Color(200, 40, 40), true);
        picture(folder.resolve("pictures/cube.png"), new Color(40, 60, 200), false);
        StringBuilder lines = new StringBuilder();
        for (Request r : REQUESTS) {
            lines.append(JSON.writeValueAsString(r.row())).append('\n');
        }
        return Files.writeString(folder.resolve("manifest.jsonl"), lines);
    }

    private static void picture(Path file, Color color, boolean round) throws IOException {
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 32, 32);
        g.setColor(color);
        if (round) {
            g.fillOval(4, 4, 24, 24);
        } else {
            g.fillRect(6, 6, 20, 20);
        }
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    /** The rows of {@code results.jsonl}, by id. */
    static Map<String, JsonNode> results(Path out) throws IOException {
        Map<String, JsonNode> rows = new LinkedHashMap<>();
        for (String line : Files.readAllLines(out.resolve(SparkBatch.RESULTS_JSONL))) {
            JsonNode row = JSON.readTree(line);
            assertNull(rows.put(row.get("id").asText(), row), "one row per id: " + row);
        }
        return rows;
    }

    /**
     * Checks the output folder holds exactly one sidecar and the expected PNGs of each good request, the bad one's
     * named error, and nothing else (no temporary files); returns the results by id.
     */
    static Map<String, JsonNode> checkOutputs(Path out) throws IOException {
        Map<String, JsonNode> results = results(out);
        assertEquals(REQUESTS.size(), results.size(), "one result row per request: " + results.keySet());
        List<String> expected = new ArrayList<>(List.of(SparkBatch.RESULTS_JSONL, SparkBatch.RESULTS_PARQUET));
        for (JsonNode row : results.values()) {
            String id = row.get("id").asText();
            if (id.equals(BAD_ID)) {
                assertEquals("failed", row.get("status").asText());
                assertTrue(row.get("error").asText().startsWith("scheduler: unknown scheduler 'no-such-scheduler'"),
                        row.get("error").asText());
                continue;
            }
            assertEquals("succeeded", row.get("status").asText(), row.toString());
            expected.add(id + ".json");
            row.get("outputs").forEach(o -> expected.add(o.asText()));
        }
        try (Stream<Path> files = Files.list(out)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            assertEquals(expected.stream().sorted().toList(), names);
        }
        return results;
    }
}
