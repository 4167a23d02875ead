package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Box;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.testing.Golden;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Montage Studio in a real headless Chromium (the system's chromium and chromedriver, driven by Selenium) against
 * {@code montage serve} on the tiny random model with its random ControlNet as {@code canny}: two subjects uploaded
 * and boxed with mouse drags, a control previewed, a run followed to its result, the result reopened, a refused
 * field shown where it belongs, the token asked for once; the page's pixels equal {@code montage generate}'s.
 * Skipped when no Chromium and chromedriver are installed.
 */
class StudioBrowserIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final int MAX_STEPS = 20;
    private static final String PROMPT = "a dog and a ball on the grass";
    /** The drags, as fractions of the canvas: x0, y0, x1, y1 of each subject's box. */
    private static final double[][] DRAGS = {{0.08, 0.22, 0.47, 0.83}, {0.55, 0.3, 0.93, 0.76}};
    private static final Path SCREENSHOTS = Path.of("target", "studio-screenshots");

    @TempDir
    static Path dir;

    private static Browser browser;
    private static Path modelProfile;
    private ChromeDriver driver;

    /** Where Chromium and chromedriver are, or nothing. */
    private record Browser(File chromium, File driver) {
    }

    @BeforeAll
    static void findBrowser() throws IOException {
        Optional<Path> chromium = executable("montage.chromium", "chromium", "chromium-browser", "google-chrome");
        Optional<Path> driver = executable("webdriver.chrome.driver", "chromedriver");
        Assumptions.assumeTrue(chromium.isPresent() && driver.isPresent(),
                "skipped: no chromium and chromedriver installed (apt-get install chromium chromium-driver)");
        browser = new Browser(chromium.get().toFile(), driver.get().toFile());
        modelProfile = Files.writeString(dir.resolve("model.yaml"), """
                engine: {device: cpu, dtype: float32}
                models:
                  base: %s
                  controlnets: {canny: %s}
                """.formatted(TinyModel.folder(), TinyModel.folder().resolve("controlnet")));
        Files.createDirectories(SCREENSHOTS);
    }

    private static Optional<Path> executable(String property, String... names) {
        String given = System.getProperty(property);
        if (given != null) {
            return Optional.of(Path.of(given)).filter(Files::isExecutable);
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        return Arrays.stream(names).flatMap(n -> Arrays.stream(path.split(File.pathSeparator))
                .map(d -> Path.of(d, n))).filter(Files::isExecutable).findFirst();
    }

    @BeforeEach
    void startBrowser() {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(browser.chromium());
        options.addArguments("--headless=new", "--window-size=1280,800", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--force-device-scale-factor=1", "--hide-scrollbars");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(browser.driver())
                .usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        // the viewport itself 1280×800, as the screenshots show it
        driver.executeCdpCommand("Emulation.setDeviceMetricsOverride", Map.of("width", 1280, "height", 800,
                "deviceScaleFactor", 1, "mobile", false));
    }

    @AfterEach
    void quitBrowser() {
        if (driver != null) {
            driver.quit();
        }
    }

    @AfterAll
    static void forget() {
        browser = null;
    }

    private ServeRun serve(Map<String, String> environment, String results) throws InterruptedException {
        return ServeRun.start(environment, "--profile", modelProfile.toString(), "--port", "0", "-o",
                dir.resolve(results).toString(), "--max-steps", Integer.toString(MAX_STEPS));
    }

    @Test
    @SuppressWarnings("unchecked")
    void composeRunAndReopenAResultWithTheSameBoxesAndTheCommandLinesPixels() throws Exception {
        Path dog = picture("dog.png", Color.ORANGE, 96, 80);
        Path ball = picture("ball.png", Color.CYAN, 64, 64);
        Path edges = picture("edges.png", Color.WHITE, 128, 128);
        try (ServeRun serve = serve(Map.of(), "results")) {
            open(serve.url());
            String lcm = waitFor("the schedulers", d -> d.findElements(By.cssSelector("#scheduler option[value='lcm']"))
                    .stream().findFirst().map(o -> o.getAttribute("title")).orElse(null));
            assertTrue(lcm.startsWith("LCM (diffusers LCMScheduler)"), "a scheduler's description is its title: "
                    + lcm);
            fill(By.id("prompt"), PROMPT);
            fill(By.id("width"), "128");
            fill(By.id("height"), "128");
            fill(By.id("steps"), "4");

            double[][] expected = new double[2][];
            Path[] pictures = {dog, ball};
            String[] phrases = {"dog", "ball"};
            for (int i = 0; i < 2; i++) {
                driver.findElement(By.id("subject-files")).sendKeys(pictures[i].toString());
                int subjects = i + 1;
                waitFor("subject " + subjects + " uploaded", d -> (Boolean) js("""
                        const cards = document.querySelectorAll('#subjects .subject');
                        return cards.length === arguments[0]
                            && ![...cards].some((c) => c.textContent.includes('Uploading'));""", subjects));
                expected[i] = drag(DRAGS[i]);
                fill(By.cssSelector("[data-field='subjects[" + i + "].phrase']"), phrases[i]);
            }

            new Select(driver.findElement(By.id("control-type"))).selectByValue("canny");
            driver.findElement(By.id("add-control")).click();
            driver.findElement(By.cssSelector("#controls .control-file")).sendKeys(edges.toString());
            waitFor("the canny preview", d -> (Boolean) js("""
                    const img = document.querySelector('#controls .control-preview');
                    return !!img && img.complete && img.naturalWidth === 128;"""));
            screenshot("studio-compose.png", "#subjects");

            js("""
                    window.sent = [];
                    window.statuses = [];
                    const fetched = window.fetch;
                    window.fetch = function (url, init) {
                      if (String(url).endsWith('/v1/generations') && init?.method === 'POST') {
                        window.sent.push(JSON.parse(init.body));
                      }
                      return fetched.apply(this, arguments);
                    };
                    new MutationObserver(() => window.statuses.push(document.getElementById('run-status').textContent))
                        .observe(document.getElementById('run-status'), {childList: true, characterData: true,
                                                                          subtree: true});""");
            driver.findElement(By.id("generate")).click();
            waitFor("the result", d -> (Boolean) js("""
                    const img = document.querySelector('#result-images img');
                    return !!img && img.complete && img.naturalWidth === 128;"""));
            List<String> statuses = (List<String>) js("return window.statuses;");
            assertTrue(statuses.stream().anyMatch(s -> s.matches("Step [1-4]/4 · ETA .*")), statuses.toString());
            assertTrue(statuses.get(statuses.size() - 1).startsWith("Finished in"), statuses.toString());
            screenshot("studio-result.png", "#run-title");

            Map<String, Object> sent = (Map<String, Object>) ((List<?>) js("return window.sent;")).get(0);
            List<Map<String, Object>> subjects = (List<Map<String, Object>>) sent.get("subjects");
            for (int i = 0; i < 2; i++) {
                assertEquals(phrases[i], subjects.get(i).get("phrase"));
                assertArrayEquals(expected[i], coordinates(subjects.get(i).get("box")), 0,
                        "subject " + i + ": pixel corner / canvas size, 4 decimals");
                Box cli = SubjectSpec.parse("image=" + pictures[i] + ",phrase=" + phrases[i] + ",box="
                        + join(expected[i])).box();
                assertEquals(cli, box(subjects.get(i).get("box")), "what box=x0,y0,x1,y1 means on the command line");
            }

            Map<String, Object> generation = latest(serve.url());
            Map<String, Object> parameters = (Map<String, Object>) generation.get("parameters");
            byte[] served = get(serve.url() + ((List<String>) generation.get("images")).get(0));
            Path cliOut = dir.resolve("cli");
            CommandRun cli = CommandRun.montage("generate", "--profile", modelProfile.toString(), "--quiet",
                    "-p", PROMPT, "--width", "128", "--height", "128", "--steps", "4",
                    "--seed", parameters.get("seed").toString(),
                    "--subject", "image=" + dog + ",phrase=dog,box=" + join(expected[0]),
                    "--subject", "image=" + ball + ",phrase=ball,box=" + join(expected[1]),
                    "--control", "type=canny,image=" + edges, "-o", cliOut.toString());
            assertEquals(0, cli.code(), cli.err());
            assertArrayEquals(pixels(served), pixels(Files.readAllBytes(Path.of(cli.out().strip()))),
                    "the page's generation and the same request through montage generate");

            open(serve.url());
            String id = (String) generation.get("id");
            WebElement tile = waitFor("the result in the gallery", d -> d.findElements(
                    By.cssSelector("#gallery .tile[data-id='" + id + "'] .open-result")).stream().findFirst()
                    .orElse(null));
            tile.click();
            waitFor("the reopened request", d -> d.findElements(By.cssSelector("#subjects .subject")).size() == 2);
            assertEquals(PROMPT, driver.findElement(By.id("prompt")).getAttribute("value"));
            for (int i = 0; i < 2; i++) {
                String box = driver.findElement(By.cssSelector("[data-field='subjects[" + i + "].box']"))
                        .getAttribute("value");
                assertArrayEquals(expected[i], Arrays.stream(box.split(",")).mapToDouble(t -> Double.parseDouble(
                        t.trim())).toArray(), 0, "the reopened box of subject " + i);
                assertEquals(phrases[i], driver.findElement(By.cssSelector("[data-field='subjects[" + i
                        + "].phrase']")).getAttribute("value"));
            }
            assertEquals(parameters.get("seed").toString(), driver.findElement(By.id("seed")).getAttribute("value"));
            assertFalse(driver.findElement(By.id("seed-random")).isSelected(), "a reopened request keeps its seed");
            assertEquals(1, driver.findElements(By.cssSelector("#controls .control")).size());
        }
    }

    @Test
    void aRefusedFieldIsShownNextToItsControl() throws Exception {
        try (ServeRun serve = serve(Map.of(), "refused")) {
            open(serve.url());
            fill(By.id("prompt"), PROMPT);
            fill(By.id("steps"), Integer.toString(MAX_STEPS + 30));
            driver.findElement(By.id("generate")).click();
            WebElement error = waitFor("the error of steps", d -> d.findElements(
                    By.cssSelector(".field-error[data-for='steps']")).stream().findFirst().orElse(null));
            assertTrue(error.getText().contains("at most " + MAX_STEPS), error.getText());
            WebElement steps = driver.findElement(By.id("steps"));
            assertEquals("true", steps.getAttribute("aria-invalid"));
            assertTrue(steps.getAttribute("aria-describedby").contains(error.getAttribute("id")));
            assertEquals(steps.findElement(By.xpath("ancestor::div[contains(@class,'field')][1]")),
                    error.findElement(By.xpath("preceding-sibling::*[1]")), "the message follows the steps field");
            assertEquals(steps, driver.switchTo().activeElement(), "the field in error has the focus");

            fill(By.id("steps"), "2");
            String reads = driver.findElement(By.id("scheduler-options")).getAttribute("title");
            assertTrue(reads.startsWith("euler reads:\n") && reads.contains("\ntimestep_spacing (enum "), reads);
            fill(By.id("scheduler-options"), "eta=0.5");
            driver.findElement(By.id("generate")).click();
            WebElement eta = waitFor("the error of the scheduler option", d -> d.findElements(
                    By.cssSelector(".field-error[data-for='schedulerOptions.eta']")).stream().findFirst().orElse(null));
            assertTrue(eta.getText().startsWith("schedulerOptions.eta unknown option (expected an option of scheduler "
                    + "'euler': "), eta.getText());
        }
    }

    /**
     * On the golden tiny model with the golden LoRA in the server's LoRA folder: a LoRA chosen with its scale is sent
     * and recorded, shown again when its result is reopened, and gone from the next request once removed.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aLoraIsChosenWithItsScaleShownWhenItsResultIsReopenedAndRemoved() throws Exception {
        Path loras = Files.createDirectories(dir.resolve("loras"));
        Files.createSymbolicLink(loras.resolve("style.safetensors"),
                Golden.dir().resolve("lora/tiny-lora-kohya.safetensors").toAbsolutePath());
        Path profile = Files.writeString(dir.resolve("lora.yaml"), """
                engine: {device: cpu, dtype: float32}
                models: {base: %s}
                server: {lora_dir: %s}
                """.formatted(Golden.model().toAbsolutePath(), loras));
        try (ServeRun serve = ServeRun.start(Map.of(), "--profile", profile.toString(), "--port", "0", "-o",
                dir.resolve("lora-results").toString(), "--max-steps", Integer.toString(MAX_STEPS))) {
            open(serve.url());
            assertTrue(driver.findElement(By.id("lora-group")).isDisplayed(), "the server offers a LoRA");
            assertEquals(List.of("style"), new Select(driver.findElement(By.id("lora-name"))).getOptions().stream()
                    .map(o -> o.getAttribute("value")).toList());
            fill(By.id("prompt"), PROMPT);
            fill(By.id("steps"), "2");
            driver.findElement(By.id("add-lora")).click();
            fill(By.cssSelector("[data-field='loras[0].scale']"), "0.8");
            new Select(driver.findElement(By.id("scheduler"))).selectByValue("ddim");
            fill(By.id("scheduler-options"), "eta=0.5");
            driver.findElement(By.id("generate")).click();
            waitFor("the result", d -> (Boolean) js("""
                    const img = document.querySelector('#result-images img');
                    return !!img && img.complete && img.naturalWidth > 0;"""));
            Map<String, Object> first = latest(serve.url());
            assertEquals(List.of(Map.of("name", "style", "scale", 0.8)),
                    ((Map<String, Object>) first.get("parameters")).get("loras"));
            assertEquals(Map.of("eta", "0.5"),
                    ((Map<String, Object>) first.get("parameters")).get("schedulerOptions"));

            open(serve.url());
            waitFor("the result in the gallery", d -> d.findElements(By.cssSelector("#gallery .tile[data-id='"
                    + first.get("id") + "'] .open-result")).stream().findFirst().orElse(null)).click();
            waitFor("the reopened LoRA", d -> d.findElements(By.cssSelector("#loras .lora")).size() == 1);
            assertEquals("1. style", driver.findElement(By.cssSelector("[data-field='loras[0].name']")).getText());
            assertEquals("0.8", driver.findElement(By.cssSelector("[data-field='loras[0].scale']"))
                    .getAttribute("value"));
            assertEquals("ddim", driver.findElement(By.id("scheduler")).getAttribute("value"));
            assertEquals("eta=0.5", driver.findElement(By.id("scheduler-options")).getAttribute("value"),
                    "the reopened scheduler options");

            driver.findElement(By.cssSelector("#loras .lora button")).click();
            assertEquals(0, driver.findElements(By.cssSelector("#loras .lora")).size());
            driver.findElement(By.id("generate")).click();
            waitFor("the second result", d -> !latest(serve.url()).get("id").equals(first.get("id"))
                    && "succeeded".equals(latest(serve.url()).get("state")));
            assertEquals(List.of(), ((Map<String, Object>) latest(serve.url()).get("parameters")).get("loras"),
                    "no LoRA once removed");
        }
    }

    /**
     * A picture to start from and its mask are uploaded and sent with the strength, recorded by their uploads and
     * hashes, shown with the strength when their result is reopened, and gone from the next request once removed; a
     * strength that takes no step is shown next to its field.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aPictureToStartFromIsSentWithItsStrengthAndShownWhenItsResultIsReopened() throws Exception {
        Path start = picture("start.png", Color.GREEN, 96, 64);
        Path mask = picture("mask.png", Color.WHITE, 96, 64);
        try (ServeRun serve = serve(Map.of(), "from-a-picture")) {
            open(serve.url());
            fill(By.id("prompt"), PROMPT);
            fill(By.id("steps"), "4");
            driver.findElement(By.id("init-file")).sendKeys(start.toString());
            waitFor("the picture uploaded", d -> d.findElement(By.id("init-status")).getText()
                    .startsWith("Starting from start.png"));
            fill(By.id("strength"), "0.1");
            driver.findElement(By.id("generate")).click();
            WebElement refused = waitFor("the error of the strength", d -> d.findElements(
                    By.cssSelector(".field-error[data-for='initImage.strength']")).stream().findFirst().orElse(null));
            assertTrue(refused.getText().contains("takes no step of 4 at 0.1"), refused.getText());

            driver.findElement(By.id("mask-file")).sendKeys(mask.toString());
            waitFor("the mask uploaded", d -> d.findElement(By.id("init-status")).getText()
                    .endsWith("repainted where mask.png is white."));
            assertEquals("1", driver.findElement(By.id("strength")).getAttribute("value"),
                    "a masked area is repainted from noise unless the strength is lowered");
            waitFor("the picture and mask shown", d -> (Boolean) js("""
                    return ['init-preview', 'mask-preview'].every((id) => {
                      const img = document.getElementById(id);
                      return !img.hidden && img.complete && img.naturalWidth === 96;
                    });"""));
            fill(By.id("strength"), "0.5");
            driver.findElement(By.id("generate")).click();
            waitFor("the result", d -> "succeeded".equals(latest(serve.url()).get("state")));
            Map<String, Object> first = latest(serve.url());
            Map<String, Object> init = (Map<String, Object>) ((Map<String, Object>) first.get("parameters"))
                    .get("initImage");
            assertEquals(Set.of("uploadId", "sha256", "strength", "mask"), init.keySet());
            assertEquals(Set.of("uploadId", "sha256"), ((Map<String, Object>) init.get("mask")).keySet());
            assertEquals(0.5, init.get("strength"));

            open(serve.url());
            waitFor("the result in the gallery", d -> d.findElements(By.cssSelector("#gallery .tile[data-id='"
                    + first.get("id") + "'] .open-result")).stream().findFirst().orElse(null)).click();
            waitFor("the reopened picture", d -> d.findElement(By.id("init-status")).getText()
                    .startsWith("Starting from upload " + init.get("uploadId")));
            assertTrue(driver.findElement(By.id("init-status")).getText().endsWith("repainted where upload "
                    + ((Map<String, Object>) init.get("mask")).get("uploadId") + " is white."));
            assertEquals("0.5", driver.findElement(By.id("strength")).getAttribute("value"));

            driver.findElement(By.id("init-clear")).click();
            assertFalse(driver.findElement(By.id("init-preview")).isDisplayed(), "no picture shown once removed");
            driver.findElement(By.id("generate")).click();
            waitFor("the second result", d -> !latest(serve.url()).get("id").equals(first.get("id"))
                    && "succeeded".equals(latest(serve.url()).get("state")));
            assertFalse(((Map<String, Object>) latest(serve.url()).get("parameters")).containsKey("initImage"),
                    "no picture once removed");
        }
    }

    /**
     * A hires pass is sent with its settings once its checkbox is on, the size it gives shown beside them, and a
     * variation with its seed, perturbed-attention guidance with its layers, a seed resize; the pass's refused strength
     * is shown next to its field, and a result's pass, variation and guidance are shown and reopened.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aHiresPassAndAVariationAreSentAndReopenedWithTheirResult() throws Exception {
        try (ServeRun serve = serve(Map.of(), "hires")) {
            open(serve.url());
            fill(By.id("prompt"), PROMPT);
            fill(By.id("steps"), "4");
            fill(By.id("width"), "64");
            fill(By.id("height"), "48");
            assertFalse(driver.findElement(By.id("hires-scale")).isEnabled(), "off until its checkbox is on");
            driver.findElement(By.id("hires-on")).click();
            assertEquals("The images are 96×72.", driver.findElement(By.id("hires-status")).getText());
            fill(By.id("hires-strength"), "0.1");
            driver.findElement(By.id("generate")).click();
            WebElement refused = waitFor("the error of the strength", d -> d.findElements(
                    By.cssSelector(".field-error[data-for='hires.strength']")).stream().findFirst().orElse(null));
            assertTrue(refused.getText().contains("takes no step of the second pass's 4 at 0.1"), refused.getText());

            fill(By.id("hires-strength"), "0.5");
            assertFalse(driver.findElement(By.id("hires-scheduler-options")).isEnabled(), "no scheduler, no options");
            new Select(driver.findElement(By.id("hires-scheduler"))).selectByValue("ddim");
            fill(By.id("hires-scheduler-options"), "eta=0.5");
            fill(By.id("hires-guidance"), "2");
            fill(By.id("hires-prompt"), "a dog and a cat, detailed");
            fill(By.id("variation-seed"), "9");
            fill(By.id("variation-strength"), "0.3");
            fill(By.id("guidance-rescale"), "0.5");
            fill(By.id("pag-scale"), "2");
            fill(By.id("seed-resize-width"), "32");
            fill(By.id("seed-resize-height"), "48");
            fill(By.id("pag-layers"), "mid, up_blocks\\.0");
            driver.findElement(By.id("generate")).click();
            waitFor("the result", d -> "succeeded".equals(latest(serve.url()).get("state")));
            Map<String, Object> first = latest(serve.url());
            assertEquals(Map.of("width", 96, "height", 72, "strength", 0.5, "steps", 0, "upscaler", "latent",
                    "scheduler", "ddim", "schedulerOptions", Map.of("eta", "0.5"), "guidance", 2.0, "prompt",
                    "a dog and a cat, detailed"),
                    ((Map<String, Object>) first.get("parameters")).get("hires"));
            assertEquals(Map.of("seed", 9, "strength", 0.3), ((Map<String, Object>) first.get("parameters"))
                    .get("variation"));
            assertEquals(0.5, ((Map<String, Object>) first.get("parameters")).get("guidanceRescale"));
            assertEquals(Map.of("scale", 2.0, "adaptiveScale", 0.0, "layers", List.of("mid", "up_blocks\\.0")),
                    ((Map<String, Object>) first.get("parameters")).get("perturbedAttention"));
            assertEquals(Map.of("width", 32, "height", 48), ((Map<String, Object>) first.get("parameters"))
                    .get("seedResizeFrom"));

            open(serve.url());
            waitFor("the result in the gallery", d -> d.findElements(By.cssSelector("#gallery .tile[data-id='"
                    + first.get("id") + "'] .open-result")).stream().findFirst().orElse(null)).click();
            waitFor("the reopened pass", d -> d.findElement(By.id("hires-on")).isSelected());
            assertEquals("1.5", driver.findElement(By.id("hires-scale")).getAttribute("value"));
            assertEquals("ddim", driver.findElement(By.id("hires-scheduler")).getAttribute("value"));
            assertEquals("eta=0.5", driver.findElement(By.id("hires-scheduler-options")).getAttribute("value"));
            assertEquals("2", driver.findElement(By.id("hires-guidance")).getAttribute("value"));
            assertEquals("a dog and a cat, detailed", driver.findElement(By.id("hires-prompt")).getAttribute("value"));
            assertEquals("9", driver.findElement(By.id("variation-seed")).getAttribute("value"));
            assertEquals("0.5", driver.findElement(By.id("guidance-rescale")).getAttribute("value"));
            assertEquals("2", driver.findElement(By.id("pag-scale")).getAttribute("value"));
            assertEquals("48", driver.findElement(By.id("seed-resize-height")).getAttribute("value"));
            assertEquals("mid, up_blocks\\.0", driver.findElement(By.id("pag-layers")).getAttribute("value"));
            assertEquals("The images are 96×72.", driver.findElement(By.id("hires-status")).getText());
            assertTrue(driver.findElement(By.id("result-parameters")).getText().contains("96×72, strength 0.5, 4 "
                    + "steps, latent, ddim (eta=0.5), guidance 2"), driver.findElement(By.id("result-parameters"))
                    .getText());
            assertTrue(driver.findElement(By.id("result-parameters")).getText().contains("scale 2, layers mid, "
                    + "up_blocks\\.0"), driver.findElement(By.id("result-parameters")).getText());

            // the PNG's own record opens into a fresh form
            Path png = Files.createTempFile("result", ".png");
            Files.write(png, get(serve.url() + "/v1/generations/" + first.get("id") + "/images/0.png"));
            open(serve.url());
            driver.findElement(By.id("open-png")).sendKeys(png.toString());
            waitFor("the opened settings", d -> d.findElement(By.id("hires-on")).isSelected());
            assertEquals(PROMPT, driver.findElement(By.id("prompt")).getAttribute("value"));
            assertEquals("ddim", driver.findElement(By.id("hires-scheduler")).getAttribute("value"));
            assertTrue(driver.findElement(By.id("server-status")).getText().startsWith("Opened the settings of "),
                    driver.findElement(By.id("server-status")).getText());
            Path a1111 = Files.createTempFile("a1111", ".png");
            PngFiles.write(a1111, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("parameters",
                    "a castle\nSteps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 4, Seed: 1, Size: 64x48, "
                            + "Clip skip: 2"));
            driver.findElement(By.id("open-png")).sendKeys(a1111.toString());
            waitFor("the A1111 settings", d -> d.findElement(By.id("server-status")).getText().startsWith(
                    "Opened the AUTOMATIC1111 settings of "));
            assertTrue(driver.findElement(By.id("server-status")).getText().endsWith("; not applied: Clip skip: 2."),
                    driver.findElement(By.id("server-status")).getText());
            assertEquals("a castle", driver.findElement(By.id("prompt")).getAttribute("value"));
            assertEquals("dpmpp-2m-karras", driver.findElement(By.id("scheduler")).getAttribute("value"));
            assertEquals(List.of("3", "4", "64", "48", "1"), Stream.of("steps", "guidance", "width", "height", "seed")
                    .map(id -> driver.findElement(By.id(id)).getAttribute("value")).toList());
            assertFalse(driver.findElement(By.id("hires-on")).isSelected(), "the earlier PNG's pass is gone");
        }
    }

    /** On a narrow window, with the keyboard alone: one column, a run started and cancelled. */
    @Test
    void aRunIsStartedAndCancelledFromTheKeyboardOnANarrowWindow() throws Exception {
        driver.executeCdpCommand("Emulation.setDeviceMetricsOverride", Map.of("width", 600, "height", 900,
                "deviceScaleFactor", 1, "mobile", false));
        try (ServeRun serve = serve(Map.of(), "cancelled")) {
            open(serve.url());
            WebElement compose = driver.findElement(By.id("compose"));
            WebElement layout = driver.findElement(By.id("layout-title"));
            assertEquals(compose.getRect().getX(), layout.findElement(By.xpath("ancestor::section[1]")).getRect()
                    .getX(), "one column");
            assertTrue(compose.getRect().getWidth() <= 600, "no wider than the window");

            driver.findElement(By.id("prompt")).sendKeys(PROMPT);
            fill(By.id("width"), "1024");
            fill(By.id("height"), "1024");
            fill(By.id("steps"), Integer.toString(MAX_STEPS));
            WebElement generate = driver.findElement(By.id("generate"));
            focusByTab(generate);
            driver.switchTo().activeElement().sendKeys(Keys.ENTER);
            waitFor("a step", d -> d.findElement(By.id("run-status")).getText().startsWith("Step ") ? true : null);
            WebElement cancel = driver.findElement(By.id("cancel"));
            assertTrue(cancel.isDisplayed());
            focusByTab(cancel);
            driver.switchTo().activeElement().sendKeys(Keys.ENTER);
            waitFor("the cancellation", d -> d.findElement(By.id("run-status")).getText().startsWith("Cancelled")
                    ? true : null);
            assertFalse(cancel.isDisplayed(), "nothing left to cancel");
        }
    }

    /** Tabs forward from the page's start until {@code target} has the focus, as a keyboard user would. */
    private void focusByTab(WebElement target) {
        js("document.activeElement.blur(); window.focus();");
        for (int i = 0; i < 200 && !target.equals(driver.switchTo().activeElement()); i++) {
            new Actions(driver).sendKeys(Keys.TAB).perform();
        }
        assertEquals(target, driver.switchTo().activeElement(), "reached with the Tab key");
    }

    @Test
    @SuppressWarnings("unchecked")
    void theTokenIsAskedForOnceKeptInSessionStorageAndNeverInAUrl() throws Exception {
        String token = "studio-token-" + Long.toHexString(System.nanoTime());
        try (ServeRun serve = serve(Map.of("MONTAGE_API_TOKEN", token), "guarded")) {
            driver.get(serve.url() + "/");
            answerToken("not-the-token");
            waitFor("the second question", d -> d.findElement(By.id("token-problem")).getText()
                    .contains("refused"));
            answerToken(token);
            waitFor("the page", d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-ready")));
            assertEquals(token, js("return sessionStorage.getItem('montage.token');"));

            driver.navigate().refresh();
            waitFor("the page again", d -> "true".equals(d.findElement(By.tagName("body"))
                    .getAttribute("data-ready")));
            assertFalse(driver.findElement(By.id("token-dialog")).isDisplayed(), "asked once per browser tab");
            List<String> urls = new ArrayList<>((List<String>) js(
                    "return performance.getEntriesByType('resource').map((e) => e.name);"));
            urls.add(driver.getCurrentUrl());
            assertTrue(urls.stream().anyMatch(u -> u.contains("/v1/models")), urls.toString());
            assertTrue(urls.stream().noneMatch(u -> u.contains(token)), urls.toString());
            assertFalse(serve.log().contains(token), "the server's log");
        }
    }

    private void answerToken(String token) {
        waitFor("the token dialog", d -> d.findElement(By.id("token-dialog")).isDisplayed());
        WebElement input = driver.findElement(By.id("token"));
        input.clear();
        input.sendKeys(token);
        driver.findElement(By.cssSelector("#token-form button[type='submit']")).click();
    }

    /** Drags a box on the layout canvas; returns what the page must send for it. */
    private double[] drag(double[] fractions) {
        WebElement canvas = driver.findElement(By.id("layout"));
        js("arguments[0].scrollIntoView({block: 'center'});", canvas);
        List<Number> rect = (List<Number>) js("""
                const r = arguments[0].getBoundingClientRect();
                return [r.left, r.top, r.width, r.height];""", canvas);
        double left = rect.get(0).doubleValue();
        double top = rect.get(1).doubleValue();
        double width = rect.get(2).doubleValue();
        double height = rect.get(3).doubleValue();
        int x0 = (int) Math.round(left + fractions[0] * width);
        int y0 = (int) Math.round(top + fractions[1] * height);
        int x1 = (int) Math.round(left + fractions[2] * width);
        int y1 = (int) Math.round(top + fractions[3] * height);
        new Actions(driver).moveToLocation(x0, y0).clickAndHold().moveToLocation((x0 + x1) / 2, (y0 + y1) / 2)
                .moveToLocation(x1, y1).release().perform();
        return new double[] {round4((x0 - left) / width), round4((y0 - top) / height), round4((x1 - left) / width),
                round4((y1 - top) / height)};
    }

    private static double round4(double v) {
        return Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4;
    }

    private static String join(double[] box) {
        return String.join(",", Arrays.stream(box).mapToObj(Double::toString).toList());
    }

    private static double[] coordinates(Object box) {
        return ((List<?>) box).stream().mapToDouble(n -> ((Number) n).doubleValue()).toArray();
    }

    private static Box box(Object box) {
        double[] c = coordinates(box);
        return new Box(c[0], c[1], c[2], c[3]);
    }

    private void open(String url) {
        driver.get(url + "/");
        waitFor("the page", d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-ready")));
    }

    private void fill(By by, String text) {
        WebElement element = driver.findElement(by);
        element.clear();
        element.sendKeys(text);
    }

    private Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    private <T> T waitFor(String what, Function<WebDriver, T> condition) {
        return new WebDriverWait(driver, WAIT).withMessage("waiting for " + what).until(condition);
    }

    /** A screenshot of the viewport with the layout in view and {@code shown} at the top of its column. */
    private void screenshot(String name, String shown) throws IOException {
        js("""
                document.querySelectorAll('.compose, .side').forEach((column) => { column.scrollTop = 0; });
                document.querySelector(arguments[0]).scrollIntoView({block: 'start'});
                window.scrollTo(0, 0);""", shown);
        Path shot = driver.getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, SCREENSHOTS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    /** A PNG of a filled oval on a darker ground. */
    private static Path picture(String name, Color color, int width, int height) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color.darker().darker().darker());
        g.fillRect(0, 0, width, height);
        g.setColor(color);
        g.fillOval(width / 8, height / 8, width * 3 / 4, height * 3 / 4);
        g.dispose();
        Path file = dir.resolve(name);
        ImageIO.write(image, "png", file.toFile());
        return file;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> latest(String url) {
        try {
            Map<String, Object> list = JSON.readValue(get(url + "/v1/generations?limit=1"), Map.class);
            return ((List<Map<String, Object>>) list.get("generations")).get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] get(String url) throws IOException, InterruptedException {
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode(), url);
        return response.body();
    }

    private static int[] pixels(byte[] png) throws IOException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }
}
