package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.dist.record.ComfyWorkflows;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A PNG of {@code montage generate} read as AUTOMATIC1111's readers read it, and run again with {@code --from}.
 */
class PngRecordTest {
    @TempDir
    Path dir;

    /**
     * A1111's infotext as its documentation describes it, read without Montage's code: the prompt's lines, a line
     * starting {@code Negative prompt:}, and a last line of {@code Key: value} pairs separated by commas, where a
     * value may be a double-quoted JSON string holding commas and colons.
     */
    record Infotext(String prompt, String negative, Map<String, String> values) {
        static Infotext parse(String text) {
            List<String> lines = List.of(text.split("\n"));
            Map<String, String> values = new LinkedHashMap<>();
            String last = lines.get(lines.size() - 1);
            int i = 0;
            while (i < last.length()) {
                int colon = last.indexOf(": ", i);
                String key = last.substring(i, colon);
                int start = colon + 2;
                int end;
                String value;
                if (last.charAt(start) == '"') {
                    StringBuilder v = new StringBuilder();
                    int j = start + 1;
                    for (; last.charAt(j) != '"'; j++) {
                        char c = last.charAt(j);
                        if (c == '\\') {
                            j++;
                            c = last.charAt(j) == 'n' ? '\n' : last.charAt(j);
                        }
                        v.append(c);
                    }
                    value = v.toString();
                    end = j + 1;
                } else {
                    end = last.indexOf(", ", start);
                    end = end < 0 ? last.length() : end;
                    value = last.substring(start, end);
                }
                values.put(key, value);
                i = end + (end < last.length() ? 2 : 0);
            }
            StringBuilder prompt = new StringBuilder();
            String negative = "";
            for (String line : lines.subList(0, lines.size() - 1)) {
                if (line.startsWith("Negative prompt: ")) {
                    negative = line.substring("Negative prompt: ".length());
                } else {
                    prompt.append(prompt.length() == 0 ? "" : "\n").append(line);
                }
            }
            return new Infotext(prompt.toString(), negative, values);
        }
    }

    private Path picture(String name, Color color) throws IOException {
        BufferedImage image = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color);
        g.fillOval(4, 4, 32, 32);
        g.dispose();
        Path file = dir.resolve(name);
        ImageIO.write(image, "png", file.toFile());
        return file;
    }

    private static Path generate(String... args) {
        List<String> all = new ArrayList<>(List.of("generate", "--model", TinyModel.folder().toString(), "--device",
                "cpu"));
        all.addAll(List.of(args));
        CommandRun run = montage(all.toArray(String[]::new));
        assertEquals(0, run.code(), run::toString);
        return Path.of(run.out().strip());
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static int[] pixels(Path png) throws IOException {
        BufferedImage image = ImageIO.read(png.toFile());
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    @Test
    @SuppressWarnings("unchecked")
    void aResultCarriesA1111ParametersAndItsRequestAndRunsAgainToTheSamePixels() throws Exception {
        Path dog = picture("dog.png", Color.ORANGE);
        Path out = dir.resolve("out");
        Path png = generate("-p", "a dog, on the beach: sunny", "-n", "blurry", "--width", "64", "--height", "48",
                "--steps", "2", "--guidance", "6", "--seed", "42", "--scheduler", "dpmpp-2m-karras",
                "--subject", "image=" + dog + ",phrase=dog,box=0.1,0.2,0.6,0.9,scale=0.5", "-o", out.toString());
        assertEquals(out.resolve("00000-42.png"), png);

        Map<String, String> chunks;
        try (InputStream in = Files.newInputStream(png)) {
            chunks = PngFiles.readParameters(in);
        }
        assertEquals(List.of("parameters", "montage"), List.copyOf(chunks.keySet()), "two text chunks");
        Infotext info = Infotext.parse(chunks.get("parameters"));
        assertEquals("a dog, on the beach: sunny", info.prompt());
        assertEquals("blurry", info.negative());
        assertEquals("2", info.values().get("Steps"));
        assertEquals("DPM++ 2M", info.values().get("Sampler"));
        assertEquals("Karras", info.values().get("Schedule type"));
        assertEquals("6.0", info.values().get("CFG scale"));
        assertEquals("42", info.values().get("Seed"));
        assertEquals("64x48", info.values().get("Size"));
        Path unet = TinyModel.folder().resolve("unet/diffusion_pytorch_model.safetensors");
        assertEquals(sha256(unet).substring(0, 10), info.values().get("Model hash"), "A1111's AutoV2 hash");
        assertEquals(TinyModel.folder().getFileName().toString(), info.values().get("Model"));
        assertEquals("dog [0.1,0.2,0.6,0.9] scale 0.5", info.values().get("Subjects"), "a quoted value");

        Map<String, Object> record = PngRecords.record(png);
        assertEquals(42, ((Number) record.get("seed")).intValue());
        assertEquals(6.0, record.get("guidance"));
        assertEquals("dpmpp-2m-karras", record.get("scheduler"));
        Map<String, Object> subject = ((List<Map<String, Object>>) record.get("subjects")).get(0);
        assertEquals(dog.toAbsolutePath().toString(), subject.get("file"));
        assertEquals(sha256(dog), subject.get("sha256"));
        assertEquals(List.of(0.1, 0.2, 0.6, 0.9), subject.get("box"));
        Map<String, Object> montage = (Map<String, Object>) record.get("montage");
        assertEquals(sha256(unet), ((Map<String, Object>) ((Map<String, Object>) montage.get("models"))
                .get("model")).get("sha256"));

        Path again = generate("--from", png.toString(), "-o", out.toString());
        assertEquals(out.resolve("00001-42.png"), again, "the next number; nothing replaced");
        assertArrayEquals(pixels(png), pixels(again), "--from runs the same request");
        assertEquals(record.get("subjects"), PngRecords.record(again).get("subjects"));

        Path overridden = generate("--from", png.toString(), "--steps", "3", "-o", out.toString());
        assertEquals(3, ((Number) PngRecords.record(overridden).get("steps")).intValue(), "a flag wins");
        assertEquals("a dog, on the beach: sunny", PngRecords.record(overridden).get("prompt"));
        assertFalse(java.util.Arrays.equals(pixels(png), pixels(overridden)));
    }

    @Test
    void aChangedPictureIsNamedWithItsHash() throws Exception {
        Path dog = picture("dog.png", Color.ORANGE);
        Path png = generate("-p", "a dog", "--width", "64", "--height", "64", "--steps", "1", "--seed", "1",
                "--subject", "image=" + dog + ",phrase=dog,box=0.1,0.2,0.6,0.9", "-o", dir.resolve("a").toString());
        String recorded = sha256(dog);
        picture("dog.png", Color.BLUE);
        CommandRun run = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
                png.toString(), "-o", dir.resolve("b").toString());
        assertEquals(2, run.code(), run::toString);
        assertTrue(run.err().contains("subjects[0]'s picture " + dog.toAbsolutePath()) && run.err().contains(recorded)
                && run.err().contains("--subject"), run.err());

        Path cat = picture("cat.png", Color.GRAY);
        Path replaced = generate("--from", png.toString(), "--subject", "image=" + cat + ",phrase=dog,box=0,0,1,1",
                "-o", dir.resolve("c").toString());
        assertEquals(sha256(cat), ((Map<?, ?>) ((List<?>) PngRecords.record(replaced).get("subjects")).get(0))
                .get("sha256"), "--subject replaces the recorded subjects");
    }

    /**
     * DDIM's η, a profile option, is recorded with the pipeline's options and as A1111's "Eta DDIM", which its readers
     * take for their DDIM η setting; at 0 A1111 records none.
     */
    @Test
    void ddimsEtaIsRecordedAsA1111RecordsIt() throws Exception {
        Path stochastic = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
                "--scheduler", "ddim", "--set", "options.scheduler.eta=0.5", "-o", dir.resolve("eta").toString());
        try (InputStream in = Files.newInputStream(stochastic)) {
            assertEquals("0.5", PngRecords.pipeline(in).get("options.scheduler.eta"));
        }
        assertEquals("0.5", infotext(stochastic).values().get("Eta DDIM"));
        Path deterministic = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
                "--scheduler", "ddim", "--set", "options.scheduler.eta=0", "-o", dir.resolve("zero").toString());
        assertFalse(infotext(deterministic).values().containsKey("Eta DDIM"));
        assertFalse(Arrays.equals(pixels(stochastic), pixels(deterministic)), "η changes the picture");
    }

    /**
     * A request's scheduler setting acts as the profile's option, is recorded in the request and as A1111 records it,
     * and goes with its scheduler when the PNG runs again; A1111's "Eta DDIM" is read back as DDIM's η.
     */
    @Test
    void aRequestsSchedulerOptionsAreRecordedAndRunAgain() throws Exception {
        String[] ddim = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
            "--scheduler", "ddim"};
        Path profile = generate(with(ddim, "--set", "options.scheduler.eta=0.5", "-o", dir.resolve("p").toString()));
        Path request = generate(with(ddim, "--scheduler-option", "eta=0.5", "-o", dir.resolve("r").toString()));
        assertArrayEquals(pixels(profile), pixels(request));
        assertEquals(Map.of("eta", "0.5"), PngRecords.record(request).get("schedulerOptions"));
        assertEquals(Map.of(), PngRecords.record(profile).get("schedulerOptions"));
        assertEquals("0.5", infotext(request).values().get("Eta DDIM"));

        Path again = generate("--from", request.toString(), "-o", dir.resolve("again").toString());
        assertArrayEquals(pixels(request), pixels(again));

        // the profile's options are this run's; the run says where they differ from the PNG's
        CommandRun withoutOption = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", profile.toString(), "-o", dir.resolve("without").toString());
        assertEquals(0, withoutOption.code(), withoutOption::toString);
        assertTrue(withoutOption.err().contains("montage: " + profile + " was made with other component options "
                + "(options.scheduler.eta 0.5 there, unset here); --set options.scheduler.eta=0.5 sets them as they "
                + "were"), withoutOption::toString);
        CommandRun withOption = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", profile.toString(), "--set", "options.scheduler.eta=0.5", "-o",
                dir.resolve("with").toString());
        assertEquals(0, withOption.code(), withOption::toString);
        assertFalse(withOption.err().contains("other component options"), withOption::toString);
        assertArrayEquals(pixels(profile), pixels(Path.of(withOption.out().strip())));
        assertEquals(Map.of("eta", "0.25"), PngRecords.record(generate("--from", request.toString(),
                "--scheduler-option", "eta=0.25", "-o", dir.resolve("less").toString())).get("schedulerOptions"));
        assertEquals(Map.of(), PngRecords.record(generate("--from", request.toString(), "--scheduler", "euler", "-o",
                dir.resolve("euler").toString())).get("schedulerOptions"), "another scheduler does not read η");

        Path a1111 = a1111Png("eta.png", "Sampler: DDIM, Eta DDIM: 0.5");
        Path fromA1111 = generate("--from", a1111.toString(), "-o", dir.resolve("a").toString());
        assertEquals(Map.of("eta", "0.5"), PngRecords.record(fromA1111).get("schedulerOptions"));

        CommandRun refused = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "-p",
                "a dog", "--width", "32", "--height", "32", "--steps", "1", "--scheduler", "euler",
                "--scheduler-option", "eta=0.5", "-o", dir.resolve("refused").toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("schedulerOptions.eta: unknown option (expected an option of scheduler "
                + "'euler': "), refused::toString);
        assertFalse(Files.exists(dir.resolve("refused")), "nothing is written");
    }

    /**
     * A1111's "DPM++ 2M SDE Heun" is SDE-DPM-Solver++ with Heun's update: written for a run of {@code dpmpp-2m-sde}
     * whose request or profile sets {@code solver_type: heun}, and read back as that scheduler and setting.
     */
    @Test
    void dpmSolverSdeWithHeunsUpdateIsRecordedAsA1111NamesIt() throws Exception {
        String[] sde = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
            "--scheduler", "dpmpp-2m-sde-karras"};
        Path request = generate(with(sde, "--scheduler-option", "solver_type=heun", "-o",
                dir.resolve("r").toString()));
        Path profile = generate(with(sde, "--set", "options.scheduler.solver_type=heun", "-o",
                dir.resolve("p").toString()));
        Path midpoint = generate(with(sde, "-o", dir.resolve("m").toString()));
        for (Path heun : List.of(request, profile)) {
            assertEquals("DPM++ 2M SDE Heun", infotext(heun).values().get("Sampler"), heun::toString);
            assertEquals("Karras", infotext(heun).values().get("Schedule type"), heun::toString);
        }
        assertEquals("DPM++ 2M SDE", infotext(midpoint).values().get("Sampler"));
        assertArrayEquals(pixels(request), pixels(profile));
        assertFalse(Arrays.equals(pixels(request), pixels(midpoint)), "Heun's update changes the picture");

        Path a1111 = a1111Png("heun.png", "Sampler: DPM++ 2M SDE Heun, Schedule type: Karras");
        Path fromA1111 = generate("--from", a1111.toString(), "-o", dir.resolve("a").toString());
        assertEquals("dpmpp-2m-sde-karras", PngRecords.record(fromA1111).get("scheduler"));
        assertEquals(Map.of("solver_type", "heun"), PngRecords.record(fromA1111).get("schedulerOptions"));
    }

    /**
     * A run from a picture records the picture's file and hash and its strength, and A1111's "Denoising strength";
     * {@code --from} runs it again from the recorded picture, {@code --strength} changing only the strength; a changed
     * picture or a strength without a picture is refused, naming it.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aRunFromAPictureIsRecordedAndRunsAgain() throws Exception {
        Path start = picture("start.png", Color.MAGENTA);
        String[] args = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "4", "--seed", "4",
            "--init-image", start.toString(), "--strength", "0.5"};
        Path png = generate(with(args, "-o", dir.resolve("first").toString()));
        Map<String, Object> init = (Map<String, Object>) PngRecords.record(png).get("initImage");
        assertEquals(Map.of("file", start.toAbsolutePath().normalize().toString(), "sha256", sha256(start),
                "strength", 0.5), init);
        assertEquals("0.5", infotext(png).values().get("Denoising strength"));

        Path again = generate("--from", png.toString(), "-o", dir.resolve("again").toString());
        assertArrayEquals(pixels(png), pixels(again));
        Path stronger = generate("--from", png.toString(), "--strength", "0.75", "-o", dir.resolve("more").toString());
        assertEquals(0.75, ((Map<String, Object>) PngRecords.record(stronger).get("initImage")).get("strength"));
        assertFalse(Arrays.equals(pixels(png), pixels(stronger)));
        Path other = picture("other.png", Color.YELLOW);
        Path another = generate("--from", png.toString(), "--init-image", other.toString(), "-o",
                dir.resolve("another").toString());
        assertEquals(Map.of("file", other.toAbsolutePath().normalize().toString(), "sha256", sha256(other),
                "strength", 0.5), PngRecords.record(another).get("initImage"),
                "another picture, at the recorded strength");
        Path noise = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "4", "--seed", "4", "-o",
                dir.resolve("noise").toString());
        assertFalse(Arrays.equals(pixels(png), pixels(noise)), "the picture changes the result");
        assertFalse(PngRecords.record(noise).containsKey("initImage"));

        CommandRun alone = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "-p",
                "a dog", "--strength", "0.5", "-o", dir.resolve("alone").toString());
        assertEquals(2, alone.code(), alone::toString);
        assertTrue(alone.err().contains("--strength 0.5 applies to a picture to start from: give --init-image"),
                alone::toString);
        picture("start.png", Color.CYAN);
        CommandRun changed = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", png.toString(), "-o", dir.resolve("changed").toString());
        assertEquals(2, changed.code(), changed::toString);
        assertTrue(changed.err().contains("initImage's picture " + start.toAbsolutePath().normalize()
                + " has changed"), changed::toString);
        assertTrue(changed.err().contains("give the picture again with --init-image"), changed::toString);
    }

    /** A mask is recorded beside its picture, at the masked default strength 1, and goes with it to --from. */
    @Test
    @SuppressWarnings("unchecked")
    void aMaskIsRecordedWithItsPictureAndRunsAgain() throws Exception {
        Path start = picture("start.png", Color.MAGENTA);
        Path mask = picture("mask.png", Color.WHITE);
        Path png = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
                "--init-image", start.toString(), "--mask", mask.toString(), "-o", dir.resolve("masked").toString());
        Map<String, Object> init = (Map<String, Object>) PngRecords.record(png).get("initImage");
        assertEquals(1.0, init.get("strength"));
        assertEquals(Map.of("file", mask.toAbsolutePath().normalize().toString(), "sha256", sha256(mask)),
                init.get("mask"));
        assertArrayEquals(pixels(png), pixels(generate("--from", png.toString(), "-o",
                dir.resolve("again").toString())));
        CommandRun alone = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "-p",
                "a dog", "--mask", mask.toString(), "-o", dir.resolve("alone").toString());
        assertEquals(2, alone.code(), alone::toString);
        assertTrue(alone.err().contains("--mask " + mask + " applies to a picture to start from: give --init-image"),
                alone::toString);
    }

    /**
     * A hires pass is recorded by its size and as A1111 writes its hires fix (Size the first pass's); {@code --from}
     * runs it again to the same pixels, the --hires-* flags change one setting each and --no-hires leaves it out;
     * A1111's hires settings are read, an upscaler none of Montage's is stops the run naming the flag that replaces it.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aHiresPassIsRecordedAsA1111RecordsItAndRunsAgain() throws Exception {
        Path png = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
                "--hires-scale", "1.5", "--hires-steps", "4", "-o", dir.resolve("hires").toString());
        assertEquals(48, ImageIO.read(png.toFile()).getWidth());
        assertEquals(Map.of("width", 48, "height", 48, "strength", 0.7, "steps", 4, "upscaler", "latent"),
                PngRecords.record(png).get("hires"));
        Map<String, String> a1111 = infotext(png).values();
        assertEquals(List.of("32x32", "0.7", "1.5", "4", "Latent"), List.of(a1111.get("Size"),
                a1111.get("Denoising strength"), a1111.get("Hires upscale"), a1111.get("Hires steps"),
                a1111.get("Hires upscaler")));
        assertArrayEquals(pixels(png), pixels(generate("--from", png.toString(), "-o",
                dir.resolve("again").toString())));
        Path lanczos = generate("--from", png.toString(), "--hires-upscaler", "lanczos", "-o",
                dir.resolve("lanczos").toString());
        assertEquals(Map.of("width", 48, "height", 48, "strength", 0.7, "steps", 4, "upscaler", "lanczos"),
                PngRecords.record(lanczos).get("hires"));
        assertEquals(64, ImageIO.read(generate("--from", png.toString(), "--hires-size", "64x64", "-o",
                dir.resolve("larger").toString()).toFile()).getHeight());
        Path single = generate("--from", png.toString(), "--no-hires", "-o", dir.resolve("single").toString());
        assertEquals(32, ImageIO.read(single.toFile()).getWidth());
        assertFalse(PngRecords.record(single).containsKey("hires"));

        Path fixed = a1111Png("fixed.png", "Sampler: Euler, Denoising strength: 0.5, Hires upscale: 2, Hires "
                + "upscaler: Latent");
        Path fromA1111 = generate("--from", fixed.toString(), "-o", dir.resolve("a").toString());
        assertEquals(Map.of("width", 64, "height", 64, "strength", 0.5, "steps", 0, "upscaler", "latent"),
                PngRecords.record(fromA1111).get("hires"));
        Path esrgan = a1111Png("esrgan.png", "Sampler: Euler, Denoising strength: 0.5, Hires resize: 48x40, Hires "
                + "steps: 3, Hires upscaler: R-ESRGAN 4x+");
        CommandRun refused = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", esrgan.toString(), "-o", dir.resolve("e").toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("hires.upscaler 'R-ESRGAN 4x+' is none of [latent, ") && refused.err()
                .contains("Lanczos]) (--hires-upscaler)"), refused::toString);
        assertEquals(Map.of("width", 48, "height", 40, "strength", 0.5, "steps", 3, "upscaler", "lanczos"),
                PngRecords.record(generate("--from", esrgan.toString(), "--hires-upscaler", "lanczos", "-o",
                        dir.resolve("e").toString())).get("hires"));
    }

    /**
     * A hires pass's own scheduler, settings, guidance and prompts are recorded in the request's {@code hires} and
     * as A1111's Hires sampler, Hires schedule type, Hires CFG Scale and Hires prompt, and run again to the same
     * pixels; a --hires-scheduler
     * given over a PNG's replaces its settings too; A1111's are read as the built-in scheduler they name, and one none
     * is stops the run naming hires.scheduler.
     */
    @Test
    void aHiresPassesOwnSchedulerAndGuidanceAreRecordedAndRunAgain() throws Exception {
        Path png = generate("-p", "a dog", "--width", "32", "--height", "32", "--steps", "3", "--seed", "4",
                "--hires-scale", "1.5", "--hires-scheduler", "dpmpp-2m-sde", "--hires-scheduler-option",
                "use_exponential_sigmas=true", "--hires-guidance", "3", "--hires-prompt", "a dog, in the snow",
                "-o", dir.resolve("own").toString());
        Map<String, Object> hires = new LinkedHashMap<>(Map.of("width", 48, "height", 48, "strength", 0.7, "steps", 0,
                "upscaler", "latent", "scheduler", "dpmpp-2m-sde", "guidance", 3.0, "prompt", "a dog, in the snow"));
        hires.put("schedulerOptions", Map.of("use_exponential_sigmas", "true"));
        assertEquals(hires, PngRecords.record(png).get("hires"));
        Map<String, String> a1111 = infotext(png).values();
        assertEquals(List.of("DPM++ 2M SDE", "Exponential", "3.0", "a dog, in the snow"), List.of(a1111.get(
                "Hires sampler"), a1111.get("Hires schedule type"), a1111.get("Hires CFG Scale"),
                a1111.get("Hires prompt")));
        assertArrayEquals(pixels(png), pixels(generate("--from", png.toString(), "-o",
                dir.resolve("again").toString())));
        Path euler = generate("--from", png.toString(), "--hires-scheduler", "euler", "-o",
                dir.resolve("euler").toString());
        Map<String, Object> eulerPass = new LinkedHashMap<>(hires);
        eulerPass.put("scheduler", "euler");
        eulerPass.remove("schedulerOptions");
        assertEquals(eulerPass, PngRecords.record(euler).get("hires"));

        Path fixed = a1111Png("own.png", "Sampler: Euler, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: "
                + "Latent, Hires sampler: DPM++ 2M, Hires schedule type: Karras, Hires CFG Scale: 4, Hires negative "
                + "prompt: \"blurry, dark\"");
        CommandRun read = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
                fixed.toString(), "-o", dir.resolve("a").toString());
        assertEquals(0, read.code(), read::toString);
        assertFalse(read.err().contains("Hires sampler"), "applied, so not noted as unapplied: " + read.err());
        Map<String, Object> fromA1111 = PngRecords.record(Files.list(dir.resolve("a")).filter(f -> f.toString()
                .endsWith(".png")).findFirst().orElseThrow());
        assertEquals(Map.of("width", 64, "height", 64, "strength", 0.5, "steps", 0, "upscaler", "latent", "scheduler",
                "dpmpp-2m-karras", "guidance", 4.0, "negativePrompt", "blurry, dark"), fromA1111.get("hires"));
        Path unknown = a1111Png("fast.png", "Sampler: Euler, Denoising strength: 0.5, Hires upscale: 2, Hires "
                + "sampler: DPM fast");
        CommandRun refused = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", unknown.toString(), "-o", dir.resolve("f").toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("hires.scheduler") && refused.err().contains("'DPM fast'"),
                refused::toString);
    }

    /**
     * Guidance rescale changes the pixels, is recorded in the request and runs again to the same pixels; with guidance
     * off it is refused naming the field.
     */
    @Test
    void guidanceRescaleIsRecordedAndRunsAgain() throws Exception {
        String[] args = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "2", "--seed", "4"};
        Path plain = generate(with(args, "-o", dir.resolve("plain").toString()));
        Path rescaled = generate(with(args, "--guidance-rescale", "0.7", "-o", dir.resolve("rescaled").toString()));
        assertFalse(Arrays.equals(pixels(plain), pixels(rescaled)), "the rescale changes the pixels");
        assertEquals(0.7, PngRecords.record(rescaled).get("guidanceRescale"));
        assertFalse(PngRecords.record(plain).containsKey("guidanceRescale"), "none recorded where none is given");
        assertArrayEquals(pixels(rescaled), pixels(generate("--from", rescaled.toString(), "-o",
                dir.resolve("again").toString())));
        CommandRun unguided = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(),
            "--device", "cpu"}, with(args, "--guidance", "1", "--guidance-rescale", "0.7", "-o",
                dir.resolve("u").toString())));
        assertEquals(2, unguided.code(), unguided::toString);
        assertTrue(unguided.err().contains("guidanceRescale"), unguided::toString);
        // the profile's default: a guided request takes it, an unguided one none
        String[] byDefault = {"--set", "defaults.guidance_rescale=0.7", "-o", dir.resolve("d").toString()};
        assertArrayEquals(pixels(rescaled), pixels(generate(with(args, byDefault))));
        assertFalse(PngRecords.record(generate(with(with(args, "--guidance", "1"), byDefault)))
                .containsKey("guidanceRescale"));
    }

    /**
     * Perturbed-attention guidance changes the pixels, is recorded whole and runs again to the same pixels, from a
     * ComfyUI PNG's PerturbedAttentionGuidance node too; its flags without a scale, or a layer pattern the UNet has no
     * layer for, are refused naming them.
     */
    @Test
    @SuppressWarnings("unchecked")
    void perturbedAttentionGuidanceIsRecordedAndRunsAgain() throws Exception {
        String[] args = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "2", "--seed", "4"};
        Path plain = generate(with(args, "-o", dir.resolve("plain").toString()));
        Path guided = generate(with(args, "--pag-scale", "3", "--pag-adaptive-scale", "0.001", "--pag-layer", "mid",
                "--pag-layer", "up_blocks\\.0", "-o", dir.resolve("pag").toString()));
        assertFalse(Arrays.equals(pixels(plain), pixels(guided)), "the guidance changes the pixels");
        assertEquals(Map.of("scale", 3.0, "adaptiveScale", 0.001, "layers", List.of("mid", "up_blocks\\.0")),
                PngRecords.record(guided).get("perturbedAttention"));
        assertFalse(PngRecords.record(plain).containsKey("perturbedAttention"));
        assertArrayEquals(pixels(guided), pixels(generate("--from", guided.toString(), "-o",
                dir.resolve("again").toString())));
        Path otherScale = generate("--from", guided.toString(), "--pag-scale", "1", "-o", dir.resolve("s").toString());
        assertEquals(Map.of("scale", 1.0, "adaptiveScale", 0.001, "layers", List.of("mid", "up_blocks\\.0")),
                PngRecords.record(otherScale).get("perturbedAttention"), "a flag over the recorded guidance");
        Path comfy = dir.resolve("comfy-pag.png");
        PngFiles.write(comfy, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.withPerturbedAttention(ComfyWorkflows.of("euler", "normal", "{\"class_type\": "
                        + "\"EmptyLatentImage\", \"inputs\": {\"width\": 32, \"height\": 32}}", "{\"class_type\": "
                        + "\"CLIPTextEncode\", \"inputs\": {\"text\": \"a castle\"}}"), 2.5)));
        Map<String, Object> fromComfy = PngRecords.record(generate("--from", comfy.toString(), "-o",
                dir.resolve("c").toString()));
        assertEquals(2.5, ((Map<String, Object>) fromComfy.get("perturbedAttention")).get("scale"));
        String[] command = {"generate", "--model", TinyModel.folder().toString(), "--device", "cpu"};
        CommandRun noScale = montage(with(command, with(args, "--pag-layer", "mid", "-o", dir.resolve("n")
                .toString())));
        assertEquals(2, noScale.code(), noScale::toString);
        assertTrue(noScale.err().contains("--pag-layer needs --pag-scale"), noScale::toString);
        CommandRun noLayer = montage(with(command, with(args, "--pag-scale", "2", "--pag-layer", "attn2", "-o",
                dir.resolve("l").toString())));
        assertEquals(2, noLayer.code(), noLayer::toString);
        assertTrue(noLayer.err().contains("perturbedAttention.layers[0]"), noLayer::toString);
    }

    /**
     * A ComfyUI PNG (its workflow in the {@code prompt} chunk) gives its sampler's prompts, seed, steps, cfg, size and
     * batch, its sampler and schedule as the built-in scheduler and settings, and notes the nodes it does not apply; a
     * sampler no built-in is stops the run naming it.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aComfyUiPngGivesItsSamplersGeneration() throws Exception {
        Path comfy = dir.resolve("comfy.png");
        String latent = "{\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 32, \"height\": 40, "
                + "\"batch_size\": 1}}";
        String text = "{\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"a castle\"}}";
        PngFiles.write(comfy, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.of("dpmpp_2m", "karras", latent, text)));
        CommandRun run = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
                comfy.toString(), "-o", dir.resolve("c").toString());
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.err().contains("was made with LoRAs (ink at 0.8), which this run applies only where the "
                + "profile does: --lora FILE:SCALE gives each"), run::toString);
        Map<String, Object> record = PngRecords.record(Path.of(run.out().strip()));
        assertEquals(List.of("a castle", "fog, blur", 42, 2, 5.5, 32, 40, "dpmpp-2m-karras"), List.of(record.get(
                "prompt"), record.get("negativePrompt"), ((Number) record.get("seed")).intValue(), record.get("steps"),
                record.get("guidance"), record.get("width"), record.get("height"), record.get("scheduler")));
        assertEquals(Map.of("timestep_spacing", "linspace"), record.get("schedulerOptions"));
        Path unknown = dir.resolve("res.png");
        PngFiles.write(unknown, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.of("res_multistep", "normal", latent, text)));
        CommandRun refused = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", unknown.toString(), "-o", dir.resolve("r").toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("res_multistep (scheduler normal)"), refused::toString);
        Path combined = dir.resolve("combined.png");
        PngFiles.write(combined, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.of("euler", "normal", latent, "{\"class_type\": \"ConditioningCombine\", \"inputs\": "
                        + "{}}")));
        String[] fromCombined = {"generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
            combined.toString(), "-o", dir.resolve("k").toString()};
        CommandRun noPrompt = montage(fromCombined);
        assertEquals(2, noPrompt.code(), noPrompt::toString);
        assertTrue(noPrompt.err().contains("comes from a ConditioningCombine node, which is not read here: give it "
                + "with --prompt"), noPrompt::toString);
        assertEquals(0, montage(with(fromCombined, "--prompt", "a tower")).code(), "the prompt given instead");
        Path img2img = dir.resolve("encoded.png");
        PngFiles.write(img2img, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.of("euler", "normal", "{\"class_type\": \"VAEEncode\", \"inputs\": {}}", text)));
        Path start = generate("-p", "a red square", "--width", "32", "--height", "32", "--steps", "2", "-o",
                dir.resolve("start").toString());
        Path fromPicture = generate("--from", img2img.toString(), "--init-image", start.toString(), "-o",
                dir.resolve("p").toString());
        assertEquals(0.6, ((Map<String, Object>) PngRecords.record(fromPicture).get("initImage")).get("strength"),
                "the sampler's denoise is the strength of the picture given again");
    }

    /**
     * A ComfyUI two-pass PNG (a second KSampler on the first's result enlarged in latent space) runs as a generation
     * with a hires pass: the images have the enlarged size, and the record carries the pass.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aComfyUiTwoPassPngRunsWithAHiresPass() throws Exception {
        Path comfy = dir.resolve("two-pass.png");
        String latent = "{\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 32, \"height\": 32}}";
        String text = "{\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"a castle\"}}";
        PngFiles.write(comfy, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("prompt",
                ComfyWorkflows.withSecondPass(ComfyWorkflows.of("euler", "normal", latent, text), "LatentUpscaleBy",
                        "\"upscale_method\": \"bilinear\", \"scale_by\": 1.5", "\"seed\": 42, \"steps\": 2, "
                                + "\"cfg\": 5.5, \"sampler_name\": \"euler\", \"scheduler\": \"normal\", "
                                + "\"denoise\": 0.5")));
        Path out = generate("--from", comfy.toString(), "-o", dir.resolve("two").toString());
        assertEquals(48, ImageIO.read(out.toFile()).getWidth());
        Map<String, Object> hires = (Map<String, Object>) PngRecords.record(out).get("hires");
        assertEquals(List.of(48, 48, 0.5, 4, "latent"), List.of(hires.get("width"), hires.get("height"),
                hires.get("strength"), hires.get("steps"), hires.get("upscaler")));
    }

    /**
     * An A1111 img2img PNG's Denoising strength, whose picture A1111 does not store, is the strength of the picture
     * --init-image gives (--strength wins over it); without one the run starts from noise and says so.
     */
    @Test
    @SuppressWarnings("unchecked")
    void anA1111Img2imgStrengthIsThatOfThePictureGivenAgain() throws Exception {
        Path img2img = a1111Png("img2img.png", "Sampler: Euler, Denoising strength: 0.5");
        Path start = generate("-p", "a red square", "--width", "32", "--height", "32", "--steps", "2", "-o",
                dir.resolve("start").toString());
        String[] model = {"generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
            img2img.toString()};
        CommandRun fromPicture = montage(with(model, "--init-image", start.toString(), "-o",
                dir.resolve("p").toString()));
        assertEquals(0, fromPicture.code(), fromPicture::toString);
        assertFalse(fromPicture.err().contains("Denoising strength"), fromPicture::toString);
        Path png = Files.list(dir.resolve("p")).filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow();
        assertEquals(0.5, ((Map<String, Object>) PngRecords.record(png).get("initImage")).get("strength"));
        Path stronger = generate("--from", img2img.toString(), "--init-image", start.toString(), "--strength", "0.9",
                "-o", dir.resolve("s").toString());
        assertEquals(0.9, ((Map<String, Object>) PngRecords.record(stronger).get("initImage")).get("strength"));
        CommandRun fromNoise = montage(with(model, "-o", dir.resolve("n").toString()));
        assertEquals(0, fromNoise.code(), fromNoise::toString);
        assertTrue(fromNoise.err().contains(img2img + " ran from a picture at strength 0.5, which the PNG does not "
                + "store: this run starts from noise; --init-image gives the picture"), fromNoise::toString);
    }

    /**
     * Textual inversion embeddings of {@code models.embeddings} change the pixels where a prompt names them; the record
     * carries each embedding file's hash and, as A1111 writes them, the hashes of those the prompts name; a file that
     * is no SDXL embedding stops the run naming it.
     */
    @Test
    @SuppressWarnings("unchecked")
    void textualInversionEmbeddingsAreAppliedAndRecorded() throws Exception {
        Path embeddings = Files.createDirectories(dir.resolve("embeddings"));
        Path fido = TinyModel.embedding(embeddings.resolve("fido.safetensors"), 2, 0.01f);
        TinyModel.embedding(embeddings.resolve("rex.safetensors"), 1, 0.02f);
        Files.write(embeddings.resolve("fido.preview.png"), new byte[] {1, 2, 3});
        String[] args = {"-p", "a photo of fido", "--width", "32", "--height", "32", "--steps", "2", "--seed", "3"};
        Path with = generate(with(args, "--set", "models.embeddings=" + embeddings, "-o",
                dir.resolve("ti").toString()));
        Path without = generate(with(args, "-o", dir.resolve("plain").toString()));
        assertFalse(Arrays.equals(pixels(with), pixels(without)), "the embedding stands for its name");
        Map<String, Object> models = (Map<String, Object>) ((Map<String, Object>) PngRecords.record(with)
                .get("montage")).get("models");
        assertEquals(sha256(fido), ((Map<String, Object>) models.get("model.embeddings.fido")).get("sha256"));
        assertTrue(models.containsKey("model.embeddings.rex"), models.keySet().toString());
        assertEquals("fido: " + sha256(fido).substring(0, 12), infotext(with).values().get("TI hashes"));

        Path wrong = Files.createDirectories(dir.resolve("wrong"));
        Files.copy(fido, wrong.resolve("fido.safetensors"));
        SafetensorsWriter.write(wrong.resolve("old.safetensors"), Map.of(), List.of(new RawTensor("emb_params",
                TensorDType.F32, new long[] {1, 4}, ByteBuffer.allocate(16))));
        CommandRun refused = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(),
            "--device", "cpu", "--set", "models.embeddings=" + wrong, "-o", dir.resolve("w").toString()}, args));
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("textual inversion 'old' (") && refused.err().contains(
                "an embedding of Stable Diffusion 1.x or 2.x; expected SDXL's clip_l"), refused::toString);
    }

    /**
     * A variation is recorded with its seed and strength and as A1111 writes it, and runs again to the same pixels; at
     * strength 0 it is the seed's picture; A1111's variation seed is read; a seed without a strength is refused.
     */
    @Test
    void aVariationIsRecordedAsA1111RecordsItAndRunsAgain() throws Exception {
        String[] args = {"-p", "a dog", "--width", "32", "--height", "32", "--steps", "2", "--seed", "4"};
        Path png = generate(with(args, "--variation-seed", "9", "--variation-strength", "0.3", "-o",
                dir.resolve("varied").toString()));
        assertEquals(Map.of("seed", 9, "strength", 0.3), PngRecords.record(png).get("variation"));
        assertEquals(List.of("9", "0.3"), List.of(infotext(png).values().get("Variation seed"),
                infotext(png).values().get("Variation seed strength")));
        assertArrayEquals(pixels(png), pixels(generate("--from", png.toString(), "-o",
                dir.resolve("again").toString())));
        Path plain = generate(with(args, "-o", dir.resolve("plain").toString()));
        assertFalse(Arrays.equals(pixels(png), pixels(plain)));
        assertArrayEquals(pixels(plain), pixels(generate("--from", png.toString(), "--variation-strength", "0",
                "-o", dir.resolve("none").toString())));
        Path a1111 = a1111Png("variation.png", "Sampler: Euler, Variation seed: 12, Variation seed strength: 0.5");
        assertEquals(Map.of("seed", 12, "strength", 0.5), PngRecords.record(generate("--from", a1111.toString(),
                "-o", dir.resolve("a").toString())).get("variation"));
        CommandRun alone = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(),
            "--device", "cpu", "--variation-seed", "9", "-o", dir.resolve("alone").toString()}, args));
        assertEquals(2, alone.code(), alone::toString);
        assertTrue(alone.err().contains("--variation-seed needs --variation-strength"), alone::toString);
    }

    /**
     * A seed resized from another size is recorded as A1111 records it and in the request, runs again to the same
     * pixels, and a bad size is refused naming the flag.
     */
    @Test
    void aSeedResizeIsRecordedAsA1111RecordsItAndRunsAgain() throws Exception {
        String[] args = {"-p", "a dog", "--width", "48", "--height", "48", "--steps", "2", "--seed", "4"};
        Path png = generate(with(args, "--seed-resize-from", "32x32", "-o", dir.resolve("resized").toString()));
        assertEquals(Map.of("width", 32, "height", 32), PngRecords.record(png).get("seedResizeFrom"));
        assertEquals("32x32", infotext(png).values().get("Seed resize from"));
        assertArrayEquals(pixels(png), pixels(generate("--from", png.toString(), "-o",
                dir.resolve("again").toString())));
        assertFalse(Arrays.equals(pixels(png), pixels(generate(with(args, "-o", dir.resolve("own").toString())))));
        CommandRun bad = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(), "--device",
            "cpu", "--seed-resize-from", "32by32", "-o", dir.resolve("bad").toString()}, args));
        assertEquals(2, bad.code(), bad::toString);
        assertTrue(bad.err().contains("--seed-resize-from '32by32': expected WxH"), bad::toString);
    }

    private static String[] with(String[] first, String... more) {
        List<String> all = new ArrayList<>(List.of(first));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /**
     * An A1111 PNG's sampler runs as the same built-in scheduler; one that none is stops the run, naming it, unless
     * --scheduler names one.
     */
    @Test
    void anA1111PngsSamplerRunsAsTheSameScheduler() throws Exception {
        Path karras = a1111Png("karras.png", "Sampler: DPM++ 2M, Schedule type: Karras");
        assertEquals("dpmpp-2m-karras", PngRecords.record(generate("--from", karras.toString(), "-o",
                dir.resolve("k").toString())).get("scheduler"));
        // A1111 1.9's default schedule of DPM++ 2M SDE is the exponential one
        Map<String, Object> exponential = PngRecords.record(generate("--from", a1111Png("sde.png",
                "Sampler: DPM++ 2M SDE, Schedule type: Automatic").toString(), "-o", dir.resolve("e").toString()));
        assertEquals("dpmpp-2m-sde", exponential.get("scheduler"));
        assertEquals(Map.of("use_exponential_sigmas", "true"), exponential.get("schedulerOptions"));
        Map<String, Object> sgm = PngRecords.record(generate("--from", a1111Png("sgm.png",
                "Sampler: Euler a, Schedule type: SGM Uniform").toString(), "-o", dir.resolve("s").toString()));
        assertEquals("euler-ancestral", sgm.get("scheduler"));
        assertEquals(Map.of("timestep_spacing", "trailing"), sgm.get("schedulerOptions"));
        Path heun = a1111Png("heun.png", "Sampler: Heun, Schedule type: KL Optimal");
        List<String> args = new ArrayList<>(List.of("generate", "--model", TinyModel.folder().toString(), "--device",
                "cpu", "--from", heun.toString(), "-o", dir.resolve("h").toString()));
        CommandRun refused = montage(args.toArray(String[]::new));
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("--from " + heun + ": its sampler Heun (Schedule type: KL Optimal) is none "
                + "of Montage's schedulers; name one with --scheduler"), refused::toString);
        assertEquals("ddim", PngRecords.record(generate("--from", heun.toString(), "--scheduler", "ddim", "-o",
                dir.resolve("h").toString())).get("scheduler"));
    }

    /** An 8×8 PNG whose A1111 text has {@code settings} besides its prompt, steps, seed and size. */
    private Path a1111Png(String name, String settings) throws IOException {
        return a1111Png(name, "a castle", settings);
    }

    private Path a1111Png(String name, String prompt, String settings) throws IOException {
        Path png = dir.resolve(name);
        PngFiles.write(png, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("parameters",
                prompt + "\nSteps: 2, " + settings + ", CFG scale: 5, Seed: 77, Size: 32x32"));
        return png;
    }

    /**
     * An A1111 prompt's emphasis is text unless the text encoder's prompt_weighting is a1111, which the run says;
     * with it, the brackets weigh the words (other pixels, the pipeline records the option), and a prompt A1111 would
     * read otherwise (BREAK) is refused naming the field.
     */
    @Test
    void anA1111PromptsEmphasisIsReadWhenTheEncoderWeighsPrompts() throws Exception {
        Path emphasised = a1111Png("emphasis.png", "a (castle:1.4) on a [hill]", "Sampler: Euler");
        CommandRun asText = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                "--from", emphasised.toString(), "-o", dir.resolve("text").toString());
        assertEquals(0, asText.code(), asText::toString);
        assertTrue(asText.err().contains("montage: the A1111 prompt weighs words with brackets, which are read as "
                + "text here; --set options.text_encoder.prompt_weighting=a1111 reads them as A1111 does"),
                asText::toString);
        String[] weighting = {"--set", "options.text_encoder.prompt_weighting=a1111"};
        CommandRun weighted = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(),
            "--device", "cpu", "--from", emphasised.toString(), "-o", dir.resolve("weighted").toString()}, weighting));
        assertEquals(0, weighted.code(), weighted::toString);
        assertFalse(weighted.err().contains("read as text"), weighted::toString);
        Path png = Path.of(weighted.out().strip());
        try (InputStream in = Files.newInputStream(png)) {
            assertEquals("a1111", PngRecords.pipeline(in).get("options.text_encoder.prompt_weighting"));
        }
        assertFalse(Arrays.equals(pixels(Path.of(asText.out().strip())), pixels(png)), "the weights act");
        Path plain = generate(with(new String[] {"-p", "a castle on a hill", "--steps", "2", "--guidance", "5",
            "--seed", "77", "--width", "32", "--height", "32", "-n", "", "--scheduler", "euler", "-o",
            dir.resolve("plain").toString()}, weighting));
        Path plainUnweighted = generate("-p", "a castle on a hill", "--steps", "2", "--guidance", "5", "--seed", "77",
                "--width", "32", "--height", "32", "-n", "", "--scheduler", "euler", "-o",
                dir.resolve("plain-unweighted").toString());
        assertArrayEquals(pixels(plainUnweighted), pixels(plain), "a prompt without emphasis is not changed");

        CommandRun refused = montage(with(new String[] {"generate", "--model", TinyModel.folder().toString(),
            "--device", "cpu", "-p", "a castle BREAK a moat", "--steps", "1", "--width", "32", "--height", "32", "-o",
            dir.resolve("break").toString()}, weighting));
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("prompt: the prompt has 'BREAK' at character 9"), refused::toString);
    }

    private static Infotext infotext(Path png) throws IOException {
        try (InputStream in = Files.newInputStream(png)) {
            return Infotext.parse(PngFiles.readParameters(in).get("parameters"));
        }
    }

    @Test
    void anA1111PngGivesItsPromptSeedStepsGuidanceAndSize() throws Exception {
        BufferedImage image = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        Path a1111 = dir.resolve("a1111.png");
        PngFiles.write(a1111, image, Map.of("parameters", "a castle, at dusk\nNegative prompt: fog\nSteps: 2, "
                + "Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5, Seed: 77, Size: 64x32, Model hash: "
                + "31e35c80fc, Model: sd_xl_base_1.0, Clip skip: 2, Eta DDIM: 0.3, Version: v1.9.4"));
        CommandRun run = montage("generate", "--model", TinyModel.folder().toString(), "--device", "cpu", "--from",
                a1111.toString(), "-o", dir.resolve("out").toString());
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.err().contains("montage: " + a1111 + " has settings nothing here corresponds to, which this "
                + "run does not apply: Clip skip: 2, Eta DDIM: 0.3\n"), run::toString);
        Path png = Path.of(run.out().strip());
        Map<String, Object> record = PngRecords.record(png);
        assertEquals("a castle, at dusk", record.get("prompt"));
        assertEquals("fog", record.get("negativePrompt"));
        assertEquals(77, ((Number) record.get("seed")).intValue());
        assertEquals(2, ((Number) record.get("steps")).intValue());
        assertEquals(5.0, record.get("guidance"));
        assertEquals(List.of(64, 32), List.of(record.get("width"), record.get("height")));
        Matcher named = Pattern.compile("00000-77\\.png$").matcher(png.toString());
        assertTrue(named.find(), png.toString());
    }
}
