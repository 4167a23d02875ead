package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;


import dev.montage.dist.server.ServerSettings;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage serve} and {@code montage submit} as a user runs them. */
class ServeAndSubmitTest {
    @TempDir
    Path dir;

    @Test
    void serverSettingsComeFromTheProfileThenTheEnvironmentThenTheFlags() throws IOException {
        Path results = dir.resolve("results");
        Path profile = Files.writeString(dir.resolve("served.yaml"), """
                engine: {device: cpu, dtype: float32}
                defaults: {steps: 7}
                server:
                  host: 0.0.0.0
                  port: 9001
                  queue_size: 3
                  concurrency: 2
                  max_steps: 40
                  shutdown_grace_seconds: 5
                  output_dir: %s
                  auth_token_env: SERVE_TOKEN
                """.formatted(results));
        Map<String, String> env = Map.of("MONTAGE_SERVER_QUEUE_SIZE", "5", "MONTAGE_SERVER_CONCURRENCY", "3",
                "SERVE_TOKEN", "from-env");
        ServeCommand.Configuration c = ServeRun.parse(env, new StringWriter(), "--profile", "server," + profile,
                "--concurrency", "4", "--port", "0").configure(TinyModel.registry());
        ServerSettings s = c.settings();
        assertEquals("0.0.0.0", s.host());
        assertEquals(0, s.port(), "the flag wins over the profile");
        assertEquals(5, s.queueSize(), "the environment wins over the profile");
        assertEquals(4, s.concurrency(), "the flag wins over the environment");
        assertEquals(40, s.maxSteps());
        assertEquals(8, s.maxImages(), "the built-in default");
        assertEquals(Duration.ofSeconds(5), s.shutdownGrace());
        assertEquals(results, s.outputDir());
        assertEquals(Optional.of("from-env"), s.authToken());
        assertEquals("environment variable MONTAGE_SERVER_QUEUE_SIZE", c.profile().origin("server.queue_size"));
        assertEquals("command line --concurrency", c.profile().origin("server.concurrency"));
        assertEquals("cpu", c.profile().profile().engine().device());
        assertEquals(7, c.profile().profile().defaults().steps());

        Path token = Files.writeString(dir.resolve("token"), "from-file\n");
        assertEquals(Optional.of("from-file"), ServeRun.parse(env, new StringWriter(), "--profile", profile.toString(),
                "--token-file", token.toString()).configure(TinyModel.registry()).settings().authToken(),
                "--token-file wins over the variable the profile names");
    }

    @Test
    void aBadProfileOrMissingWeightsStopTheStartWithTheNamedProblem() throws IOException {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "server:\n  queue_sise: 3\n  port: eighty\n");
        CommandRun typo = montage("serve", "--profile", "server," + bad);
        assertEquals(2, typo.code());
        assertTrue(typo.err().contains(bad + ":2: server.queue_sise: unknown key; did you mean server.queue_size?"),
                typo.err());
        assertTrue(typo.err().contains(bad + ":3: server.port: expected an integer, got"), typo.err());

        Path missing = Files.writeString(dir.resolve("missing.yaml"), "models:\n  base: %s\n  controlnets:\n"
                .formatted(TinyModel.folder()) + "    canny: " + dir.resolve("no-controlnet") + "\n");
        CommandRun weights = montage("serve", "--profile", missing.toString(), "--port", "0");
        assertEquals(2, weights.code());
        assertTrue(weights.err().contains(missing + ":4: models.controlnets.canny: " + dir.resolve("no-controlnet")
                + " does not exist"), weights.err());
        assertFalse(weights.err().contains("montage: serving"), weights.err());
    }

    @Test
    void serveStopsAtStartWithTheNamedProblem() {
        CommandRun missing = montage("serve", "--model", dir.resolve("nowhere").toString(), "--port", "0");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("command line --model: models.base: " + dir.resolve("nowhere")
                + " does not exist"), missing.err());
        CommandRun bad = montage("serve", "--queue-size", "0", "--concurrency", "0", "--port", "0");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("command line --queue-size: server.queue_size: expected 1 or more")
                && bad.err().contains("command line --concurrency: server.concurrency: expected 1 or more"),
                bad.err());
        CommandRun broken = montage("serve", "--model", dir.toString(), "--port", "0", "--device", "cpu", "-o",
                dir.resolve("out").toString());
        assertEquals(2, broken.code());
        assertTrue(broken.err().startsWith("montage: "), broken.err());
    }

    @Test
    void warnsWhenTheProfileReleasesWeightsAfterEveryGeneration() throws Exception {
        try (ServeRun serve = ServeRun.start(Map.of(), "--model", TinyModel.folder().toString(), "--port", "0",
                "--device", "cpu", "-o", dir.resolve("results").toString(), "--set",
                "pipeline.release_denoiser=true")) {
            assertTrue(serve.log().contains("montage: warning: pipeline.release_denoiser on: every request loads "
                    + "those weights again"), serve.log());
        }
    }

    @Test
    void serveThenSubmitAndFollowProgress() throws Exception {
        String url;
        String log;
        try (ServeRun serve = ServeRun.start(Map.of(), "--model", TinyModel.folder().toString(), "--port", "0",
                "--device", "cpu", "-o", dir.resolve("results").toString(), "--max-size", "256x256")) {
            url = serve.url();
            assertEquals(1, serve.log().lines().filter(l -> l.startsWith("montage: serving")).count());
            assertFalse(serve.log().contains("montage: warning"), serve.log());
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(url + "/readyz")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ready.statusCode(), "ready once the serving line is out");

            Path picture = dir.resolve("dog.png");
            ImageIO.write(oval(), "png", picture.toFile());
            Path images = dir.resolve("images");
            CommandRun ok = montage("submit", "--server", url, "-p", "a dog on grass", "-s",
                    "image=" + picture + ",phrase=dog,box=0.1,0.2,0.6,0.9,scale=0.7", "--width", "64", "--height", "64",
                    "--steps", "3", "--seed", "4", "--scheduler", "ddim", "--scheduler-option", "eta=0.5", "-o",
                    images.toString());
            assertEquals(0, ok.code(), ok.err());
            Path saved = Path.of(ok.out().trim());
            assertTrue(Files.isRegularFile(saved) && saved.startsWith(images), ok.out());
            assertEquals(Map.of("eta", "0.5"), PngRecords.record(saved).get("schedulerOptions"));
            assertEquals(64, ImageIO.read(saved.toFile()).getWidth());
            assertTrue(ok.err().contains("queued at position 1"), ok.err());
            assertTrue(ok.err().contains("3/3"), "progress is shown: " + ok.err());

            CommandRun invalid = montage("submit", "--server", url, "-p", "a dog", "--width", "65", "--steps", "0",
                    "--scheduler-option", "eta=0.5");
            assertEquals(2, invalid.code());
            assertTrue(invalid.err().contains("montage: schedulerOptions.eta: unknown option (expected an option of "
                    + "scheduler 'euler': "), invalid.err());
            assertTrue(invalid.err().contains("montage: width: must be a positive multiple of 8, got 65"),
                    invalid.err());
            assertTrue(invalid.err().contains("montage: steps: "), invalid.err());
            assertEquals(0, serve.stop(), serve.log());
            log = serve.log();
        }
        assertTrue(log.contains("montage: shutting down"), log);
    }

    private static BufferedImage oval() {
        BufferedImage image = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillOval(5, 5, 30, 30);
        g.dispose();
        return image;
    }
}
