package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Control;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.Subject;
import dev.montage.api.Variation;
import dev.montage.dist.Montage;
import dev.montage.dist.TinyModel;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.pipeline.Lora;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage submit} sends every request option {@code montage generate} takes that a server can honour. */
class SubmitOptionsTest {
    private static final String KEYPOINTS = """
            {"people": [{"pose_keypoints_2d": [128, 50, 0.9, 128, 75, 0.9, 103, 76, 0.9, 95, 112, 0.9, 91, 148, 0.9,
              153, 76, 0.9, 161, 112, 0.9, 166, 148, 0.9, 112, 150, 0.9, 110, 196, 0.9, 109, 239, 0.9, 143, 150, 0.9,
              145, 196, 0.9, 146, 239, 0.9, 123, 44, 0.9, 133, 44, 0.9, 117, 47, 0.9, 139, 47, 0.9]}],
             "canvas_width": 256, "canvas_height": 256}
            """;

    @TempDir
    Path dir;

    @Test
    void controlsKeypointsLorasAutoLayoutDroppedGroundingAndAPictureToStartFromReachTheServer() throws Exception {
        Path loras = Files.createDirectories(dir.resolve("loras"));
        Files.write(loras.resolve("style.safetensors"), new byte[0]);
        Path dog = dir.resolve("dog.webp");
        Files.write(dog, Pictures.webp(32, 32, (x, y) -> x < 16 ? 0xffff0000 : 0xff00ff00));
        Path edges = dir.resolve("edges.png");
        Files.write(edges, Pictures.oval(Color.WHITE, 64));
        Path start = dir.resolve("start.png");
        Files.write(start, Pictures.oval(Color.BLUE, 48));
        Path mask = dir.resolve("mask.png");
        Files.write(mask, Pictures.oval(Color.WHITE, 40));
        Path pose = dir.resolve("pose.json");
        Files.writeString(pose, KEYPOINTS, StandardCharsets.UTF_8);

        AtomicReference<GenerationRequest> seen = new AtomicReference<>();
        AtomicReference<List<Lora>> seenLoras = new AtomicReference<>();
        try (MontagePipeline controlled = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder())
                .controlTypes(List.of("canny", "pose")).build();
                TestServer s = TestServer.start(TestServer.settings(dir.resolve("out")).loraDir(loras).build(),
                        (request, requestLoras, listener) -> {
                            seen.set(request);
                            seenLoras.set(requestLoras);
                            return controlled.generate(request, listener);
                        }, controlled, TinyModel.registry(), TinyModel.folder())) {
            int code = Montage.run("submit", "--server", s.server.url(), "-p", "a dog", "--width", "64", "--height",
                    "64", "--steps", "4", "--seed", "9",
                    "-s", "image=" + dog + ",phrase=dog,box=0.1,0.1,0.6,0.9,drop=true",
                    "-c", "type=canny,image=" + edges + ",scale=0.6,start=0.1,end=0.9,low=50",
                    "-c", "type=pose,keypoints=" + pose + ",context=full",
                    "--controlnet-context", "text-only", "--lora", "style:0.4", "--auto-layout", "0.4,1",
                    "--init-image", start.toString(), "--mask", mask.toString(), "--strength", "0.5",
                    "-o", dir.resolve("images").toString());
            assertEquals(0, code);
        }
        GenerationRequest request = seen.get();
        Subject subject = request.subjects().get(0);
        assertTrue(subject.dropGrounding());
        assertEquals(32, subject.image().getWidth(), "the WebP picture was uploaded and decoded");
        assertEquals(0.4, request.autoLayout().orElseThrow().threshold());
        List<Control> controls = request.controls();
        assertEquals(List.of("canny", "pose"), controls.stream().map(Control::type).toList());
        assertEquals(0.6, controls.get(0).conditioningScale());
        assertEquals(0.1, controls.get(0).guidanceStart());
        assertEquals(0.9, controls.get(0).guidanceEnd());
        assertEquals("50", controls.get(0).requestOptions().get("low"));
        assertEquals("text-only", controls.get(0).requestOptions().get(Control.CONTEXT_OPTION),
                "--controlnet-context for a control that does not say");
        assertEquals("full", controls.get(1).requestOptions().get(Control.CONTEXT_OPTION));
        assertTrue(controls.get(1).data() != null, "the keypoints, for the server's pose plugin to render");
        assertEquals(1, seenLoras.get().size());
        assertEquals(loras.resolve("style.safetensors"), seenLoras.get().get(0).file());
        assertEquals(0.4, seenLoras.get().get(0).scale());
        InitImage init = request.initImage().orElseThrow();
        assertEquals(0.5, init.strength());
        assertEquals(48, init.image().getWidth());
        assertEquals(40, init.mask().getWidth());
    }

    /**
     * The --hires-*, --variation-* and --pag-* flags reach the server as the request's fields, which it resolves.
     */
    @Test
    void aHiresPassAVariationAndPerturbedAttentionReachTheServer() throws Exception {
        AtomicReference<GenerationRequest> seen = new AtomicReference<>();
        try (MontagePipeline pipeline = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder()).build();
                TestServer s = serving(pipeline, seen)) {
            assertEquals(0, Montage.run("submit", "--server", s.server.url(), "-p", "a dog", "--width", "32",
                    "--height", "32", "--steps", "2", "--hires-scale", "1.5", "--hires-steps", "3", "--hires-upscaler",
                    "lanczos", "--hires-scheduler", "dpmpp-2m-sde", "--hires-scheduler-option",
                    "use_exponential_sigmas=true", "--hires-guidance", "2", "--variation-seed", "9",
                    "--variation-strength", "0.25", "--pag-scale", "2", "--pag-layer", "mid", "--pag-layer",
                    "up_blocks\\.0", "-o", dir.resolve("images").toString()));
        }
        assertEquals(new Hires(48, 48, Hires.DEFAULT_STRENGTH, 3, Hires.Upscaler.LANCZOS).withScheduler("dpmpp-2m-sde",
                Map.of("use_exponential_sigmas", "true")).withGuidance(2), seen.get().hires().orElseThrow());
        assertEquals(new Variation(9, 0.25), seen.get().variation().orElseThrow());
        assertEquals(new PerturbedAttention(2, 0, List.of("mid", "up_blocks\\.0")), seen.get().perturbedAttention()
                .orElseThrow());
    }

    /**
     * {@code --from} sends the request an A1111 PNG records (its sampler as the built-in scheduler, its hires fix), the
     * flags changing fields one by one; a record with pictures that no flag gives again is refused naming the flag.
     */
    @Test
    void theRequestAPngRecordsReachesTheServer() throws Exception {
        Path a1111 = dir.resolve("a1111.png");
        PngFiles.write(a1111, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("parameters",
                "a castle\nNegative prompt: fog\nSteps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 4, "
                        + "Seed: 77, Size: 32x32, Denoising strength: 0.5, Hires upscale: 1.5, Hires upscaler: "
                        + "Latent"));
        AtomicReference<GenerationRequest> seen = new AtomicReference<>();
        try (MontagePipeline pipeline = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder()).build();
                TestServer s = serving(pipeline, seen)) {
            assertEquals(0, Montage.run("submit", "--server", s.server.url(), "--from", a1111.toString(), "--seed",
                    "78", "-o", dir.resolve("images").toString()));
            GenerationRequest r = seen.get();
            assertEquals(List.of("a castle", "fog", 3, 4.0, 78L, 32, "dpmpp-2m-karras"), List.of(r.prompt(),
                    r.negativePrompt(), r.steps(), r.guidanceScale(), r.seed(), r.width(), r.scheduler()
                            .orElseThrow()));
            assertEquals(new Hires(48, 48, 0.5, 0, Hires.Upscaler.LATENT), r.hires().orElseThrow());

            Path dog = dir.resolve("dog.png");
            Files.write(dog, Pictures.oval(Color.RED, 32));
            assertEquals(0, Montage.run("generate", "--model", TinyModel.folder().toString(), "--device", "cpu",
                    "-p", "a dog", "--width", "32", "--height", "32", "--steps", "1", "--subject",
                    "image=" + dog + ",phrase=dog,box=0,0,1,1", "-o", dir.resolve("made").toString()));
            Path made;
            try (var files = Files.list(dir.resolve("made"))) {
                made = files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow();
            }
            assertEquals(2, Montage.run("submit", "--server", s.server.url(), "--from", made.toString(), "-o",
                    dir.resolve("refused").toString()), "its subject picture is not sent from the record");
            assertEquals(0, Montage.run("submit", "--server", s.server.url(), "--from", made.toString(), "--subject",
                    "image=" + dog + ",phrase=dog,box=0,0,1,1", "-o", dir.resolve("again").toString()));
            assertEquals("a dog", seen.get().prompt());
            assertEquals(1, seen.get().subjects().size());
        }
    }

    /**
     * The LoRAs a PNG records go to the server by name and scale (an A1111 prompt's tags, taken out of the prompt),
     * unless --lora gives others.
     */
    @Test
    void theLorasAPngRecordsGoByName() throws Exception {
        Path loras = Files.createDirectories(dir.resolve("loras"));
        Files.write(loras.resolve("style.safetensors"), new byte[0]);
        Files.write(loras.resolve("ink.safetensors"), new byte[0]);
        Path a1111 = dir.resolve("lora.png");
        PngFiles.write(a1111, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("parameters",
                "a castle <lora:style:0.4>\nSteps: 2, Sampler: Euler, Seed: 5, Size: 32x32"));
        AtomicReference<GenerationRequest> seen = new AtomicReference<>();
        AtomicReference<List<Lora>> seenLoras = new AtomicReference<>();
        try (MontagePipeline pipeline = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder()).build();
                TestServer s = TestServer.start(TestServer.settings(dir.resolve("out")).loraDir(loras).build(),
                        (request, requestLoras, listener) -> {
                            seen.set(request);
                            seenLoras.set(requestLoras);
                            return pipeline.generate(request, listener);
                        }, pipeline, TinyModel.registry(), TinyModel.folder())) {
            assertEquals(0, Montage.run("submit", "--server", s.server.url(), "--from", a1111.toString(), "-o",
                    dir.resolve("images").toString()));
            assertEquals("a castle ", seen.get().prompt());
            assertEquals(List.of(new Lora(loras.resolve("style.safetensors"), 0.4)), seenLoras.get());
            assertEquals(0, Montage.run("submit", "--server", s.server.url(), "--from", a1111.toString(), "--lora",
                    "ink:0.7", "-o", dir.resolve("images").toString()));
            assertEquals(List.of(new Lora(loras.resolve("ink.safetensors"), 0.7)), seenLoras.get());
        }
    }

    /** A server of the tiny model that keeps the request it was given last. */
    private TestServer serving(MontagePipeline pipeline, AtomicReference<GenerationRequest> seen) throws Exception {
        return TestServer.start(TestServer.settings(dir.resolve("out")).build(), (request, requestLoras, listener) -> {
            seen.set(request);
            return pipeline.generate(request, listener);
        }, pipeline, TinyModel.registry(), TinyModel.folder());
    }

    @Test
    void aLoraNeedsANameAndANumericScale() {
        assertEquals(2, Montage.run("submit", "--server", "http://127.0.0.1:9", "-p", "x", "--lora", ":0.5"));
        assertEquals(2, Montage.run("submit", "--server", "http://127.0.0.1:9", "-p", "x", "--lora", "style:strong"));
        assertEquals(2, Montage.run("submit", "--server", "http://127.0.0.1:9", "-p", "x", "--mask", "mask.png"));
    }
}
