package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code montage serve} and {@code montage submit} as a user runs them. */
class ServeAndSubmitTest {
    private static final Pattern SERVING = Pattern.compile("montage: serving .* on (http://\\S+) ");

    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run montage(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Montage.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void serveStopsAtStartWithTheNamedProblem() {
        Run missing = montage("serve", "--model", dir.resolve("nowhere").toString(), "--port", "0");
        assertEquals(2, missing.code());
        assertEquals("montage: model folder " + dir.resolve("nowhere") + " does not exist\n", missing.err());
        Run bad = montage("serve", "--queue-size", "0", "--concurrency", "0", "--port", "0");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("queueSize must be > 0") && bad.err().contains("concurrency must be > 0"),
                bad.err());
        Run broken = montage("serve", "--model", dir.toString(), "--port", "0", "--device", "cpu", "-o",
                dir.resolve("out").toString());
        assertEquals(2, broken.code());
        assertTrue(broken.err().startsWith("montage: "), broken.err());
    }

    @Test
    void serveThenSubmitAndFollowProgress() throws Exception {
        ServeCommand serve = new ServeCommand();
        StringWriter serveErr = new StringWriter();
        CommandLine cli = new CommandLine(serve);
        cli.setErr(new PrintWriter(serveErr, true));
        cli.parseArgs("--model", TinyModel.folder().toString(), "--port", "0", "--device", "cpu",
                "-o", dir.resolve("results").toString(), "--max-size", "256x256");
        CountDownLatch stop = new CountDownLatch(1);
        AtomicInteger code = new AtomicInteger(-1);
        Thread server = new Thread(() -> {
            try {
                code.set(serve.serve(serve.settings(), stop));
            } catch (Exception e) {
                serveErr.write("failed: " + e);
                code.set(99);
            }
        });
        server.start();
        String url = null;
        for (int i = 0; i < 60_000 && url == null && server.isAlive(); i++) {
            Matcher m = SERVING.matcher(serveErr.toString());
            url = m.find() ? m.group(1) : null;
            Thread.sleep(5);
        }
        try {
            assertTrue(url != null, "no serving line: " + serveErr);
            assertEquals(1, serveErr.toString().lines().filter(l -> l.startsWith("montage: serving")).count());
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(url + "/readyz")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ready.statusCode(), "ready once the serving line is out");

            Path picture = dir.resolve("dog.png");
            ImageIO.write(oval(), "png", picture.toFile());
            Path images = dir.resolve("images");
            Run ok = montage("submit", "--server", url, "-p", "a dog on grass", "-s",
                    "image=" + picture + ",phrase=dog,box=0.1,0.2,0.6,0.9,scale=0.7", "--width", "64", "--height", "64",
                    "--steps", "3", "--seed", "4", "-o", images.toString());
            assertEquals(0, ok.code(), ok.err());
            Path saved = Path.of(ok.out().trim());
            assertTrue(Files.isRegularFile(saved) && saved.startsWith(images), ok.out());
            assertEquals(64, ImageIO.read(saved.toFile()).getWidth());
            assertTrue(ok.err().contains("queued at position 1"), ok.err());
            assertTrue(ok.err().contains("3/3"), "progress is shown: " + ok.err());

            Run invalid = montage("submit", "--server", url, "-p", "a dog", "--width", "65", "--steps", "0");
            assertEquals(2, invalid.code());
            assertTrue(invalid.err().contains("montage: width: must be a positive multiple of 8, got 65"),
                    invalid.err());
            assertTrue(invalid.err().contains("montage: steps: "), invalid.err());
        } finally {
            stop.countDown();
            server.join();
        }
        assertEquals(0, code.get(), serveErr.toString());
        assertTrue(serveErr.toString().contains("montage: shutting down"), serveErr.toString());
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
