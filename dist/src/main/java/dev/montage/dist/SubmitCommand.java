package dev.montage.dist;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.FieldError;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.server.MontageClient;
import dev.montage.dist.server.ServerSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code montage submit}: sends one request to a running server through its HTTP API (subject pictures as uploads),
 * prints the progress from the event stream and saves the images. Interrupting it (Ctrl-C) cancels the generation.
 */
@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Send a generation to a montage server and wait for its images.",
            "The bearer token, if the server needs one, comes from " + ServerSettings.TOKEN_ENV + " or --token-file."},
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {"0:the images were saved", "1:the generation failed or was cancelled",
            "2:the request or a setting is invalid", "3:the server is busy or shutting down; try again later"})
final class SubmitCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The request fields of a PNG's record that submit sends as they are (before the flags change them). */
    private static final List<String> RECORDED_FIELDS = List.of("negativePrompt", "width", "height", "steps",
            "guidance", "guidanceRescale", "scale", "seed", "count", "scheduler", "autoLayout");

    @Spec
    CommandSpec spec;

    @Option(names = "--server", required = true, description = "Server URL, e.g. http://127.0.0.1:8080")
    URI server;

    @Option(names = "--token-file", description = "File holding the bearer token.")
    Path tokenFile;

    @Option(names = {"-p", "--prompt"}, description = "The prompt (required unless --from gives it).")
    String prompt;

    @Option(names = "--from", paramLabel = "PNG", description = "Send the request a PNG records (Montage's, A1111's or "
            + "ComfyUI's); the other flags change its fields one by one. Its pictures are given again with --subject, "
            + "--control and --init-image; its LoRAs go by name unless --lora gives others.")
    Path from;

    @Option(names = {"-n", "--negative-prompt"}, description = "Negative prompt (default: the server's).")
    String negativePrompt;

    @Option(names = {"-s", "--subject"}, description = "image=FILE,phrase=WORDS,box=x0,y0,x1,y1[,scale=S][,drop=true]"
            + " (repeatable, in order)")
    List<String> subjects = new ArrayList<>();

    @Option(names = {"-c", "--control"}, description = "type=canny|depth|pose,image=FILE|keypoints=FILE[,scale=S]"
            + "[,start=A][,end=B][,preprocess=none][,context=text-only|full][,key=value...] (repeatable; the picture "
            + "is uploaded, the OpenPose keypoints sent inline; the ControlNet is the server's)")
    List<String> controls = new ArrayList<>();

    @Option(names = "--controlnet-context", description = "What ControlNets cross-attend to, for every control that "
            + "does not say: text-only or full (default: the server's, text-only).")
    String controlNetContext;

    @Option(names = "--lora", paramLabel = "NAME[:SCALE]", description = "Apply one of the server's LoRAs (GET "
            + "/v1/models lists them) at SCALE (default 1) (repeatable).")
    List<String> loras = new ArrayList<>();

    @Option(names = "--width", description = "Width in pixels, multiple of 8.")
    Integer width;

    @Option(names = "--height", description = "Height in pixels, multiple of 8.")
    Integer height;

    @Option(names = "--steps", description = "Denoising steps.")
    Integer steps;

    @Option(names = {"-g", "--guidance"}, description = "Classifier-free guidance scale, 1 = off.")
    Double guidance;

    @Option(names = "--guidance-rescale", description = "Rescale the guided prediction towards the conditional "
            + "one's standard deviation by this share, 0 to 1 (diffusers' guidance_rescale).")
    Double guidanceRescale;

    @Option(names = "--scale", description = "Image attention scale of the subjects.")
    Double scale;

    @Option(names = "--seed", description = "Seed of the starting noise (default: drawn by the server).")
    Long seed;

    @Option(names = "--scheduler", description = "Scheduler id, e.g. euler, ddim, dpmpp-2m.")
    String scheduler;

    @Option(names = "--scheduler-option", paramLabel = "NAME=VALUE",
            description = GenerateCommand.SCHEDULER_OPTION_HELP + " GET /v1/models lists what each scheduler reads.")
    Map<String, String> schedulerOptions = new LinkedHashMap<>();

    @Option(names = "--count", description = "Images to generate.")
    Integer count;

    @Option(names = "--auto-layout", description = "THRESHOLD,START_STEP: masks from attention maps after START_STEP.")
    String autoLayout;

    @Mixin
    HiresOptions hires;

    @Mixin
    VariationOptions variation;

    @Mixin
    PerturbedAttentionOptions perturbedAttention;

    @Option(names = "--init-image", paramLabel = "FILE", description = "Start from this picture (image-to-image), "
            + "uploaded first; see --strength.")
    Path initImage;

    @Option(names = "--strength", description = "How much of the --init-image is replaced, in (0, 1] (default: the "
            + "server's, 0.3, or 1 with --mask).")
    Double strength;

    @Option(names = "--mask", paramLabel = "FILE", description = "Repaint the --init-image only where this picture is "
            + "white (inpainting), uploaded first.")
    Path mask;

    @Option(names = {"-o", "--out"}, description = "Folder for the images (default ${DEFAULT-VALUE}).")
    Path out = Path.of("montage-out");

    @Override
    public Integer call() throws IOException, InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        MontageClient client = new MontageClient(server, token());
        Map<String, Object> body;
        String id;
        try {
            body = body(client);
            Map<String, Object> submitted = client.submit(body);
            id = (String) submitted.get("id");
            err.println("montage: generation " + id + " queued at position " + submitted.get("position"));
        } catch (MontageClient.ApiError e) {
            return refused(err, e);
        }
        AtomicBoolean ended = new AtomicBoolean();
        Thread cancelOnInterrupt = new Thread(() -> {
            if (!ended.get()) {
                try {
                    client.cancel(id);
                } catch (IOException | InterruptedException e) {
                    // the process is ending; the server's own state tells what became of the generation
                }
            }
        }, "montage-submit-cancel");
        Runtime.getRuntime().addShutdownHook(cancelOnInterrupt);
        try {
            return follow(client, id, err);
        } finally {
            ended.set(true);
            try {
                Runtime.getRuntime().removeShutdownHook(cancelOnInterrupt);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs and sees the generation ended
            }
        }
    }

    private int follow(MontageClient client, String id, PrintWriter err) throws IOException, InterruptedException {
        ProgressBar bar = new ProgressBar(err, "");
        long[] started = {System.nanoTime()};
        MontageClient.Event last = client.events(id, event -> {
            switch (event.type()) {
                case "started" -> started[0] = System.nanoTime();
                case "progress" -> bar.onStep(((Number) event.data().get("step")).intValue(),
                        ((Number) event.data().get("total")).intValue(), Duration.ofNanos(System.nanoTime() - started[0]));
                default -> {
                }
            }
        });
        if (!last.type().equals("finished")) {
            err.println("montage: generation " + id + " " + last.type() + ": " + last.data().get("reason"));
            return 1;
        }
        Files.createDirectories(out);
        List<?> images = (List<?>) last.data().get("images");
        for (int n = 0; n < images.size(); n++) {
            Path file = out.resolve(id + "-" + n + ".png");
            Files.write(file, client.image(id, n));
            spec.commandLine().getOut().println(file);
        }
        err.printf("montage: %d image(s) in %s s%n", images.size(), last.data().get("seconds"));
        return 0;
    }

    /** Prints each field the server named; 3 when trying again later may help. */
    private static int refused(PrintWriter err, MontageClient.ApiError e) {
        for (FieldError f : e.errors()) {
            err.println("montage: " + (f.field() == null ? "" : f.field() + ": ") + f.message());
        }
        e.retryAfterSeconds().ifPresent(s -> err.println("montage: the server suggests trying again in " + s + " s"));
        return e.status() == 429 || e.status() == 503 ? 3 : 2;
    }

    private Optional<String> token() throws IOException {
        if (tokenFile != null) {
            return Optional.of(Files.readString(tokenFile).trim());
        }
        return Optional.ofNullable(System.getenv(ServerSettings.TOKEN_ENV)).filter(t -> !t.isBlank());
    }

    /**
     * The request body: the fields of the PNG of {@code --from}, if any, with the flags laid over them; each picture is
     * uploaded first and named by its upload id.
     */
    private Map<String, Object> body(MontageClient client) throws IOException, InterruptedException {
        Map<String, Object> b = new LinkedHashMap<>();
        RecordedRequest recorded = from == null ? null : recorded();
        if (prompt == null && recorded == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "Missing required option: '--prompt=<prompt>' (or --from PNG)");
        }
        b.put("prompt", prompt != null ? prompt : recorded.get("prompt"));
        if (recorded != null) {
            for (String field : RECORDED_FIELDS) {
                putIfGiven(b, field, recorded.get(field));
            }
        }
        putIfGiven(b, "negativePrompt", negativePrompt);
        putIfGiven(b, "width", width);
        putIfGiven(b, "height", height);
        putIfGiven(b, "steps", steps);
        putIfGiven(b, "guidance", guidance);
        putIfGiven(b, "guidanceRescale", guidanceRescale);
        putIfGiven(b, "scale", scale);
        putIfGiven(b, "seed", seed);
        putIfGiven(b, "scheduler", scheduler);
        Map<String, String> settings = new LinkedHashMap<>();
        // the recorded scheduler's settings go with it: another scheduler may not read them
        if (recorded != null && (scheduler == null || scheduler.equals(recorded.get("scheduler")))) {
            settings.putAll(recorded.schedulerOptions());
        }
        settings.putAll(schedulerOptions);
        if (!settings.isEmpty()) {
            b.put("schedulerOptions", settings);
        }
        putIfGiven(b, "count", count);
        if (autoLayout != null) {
            AutoLayout a = GenerateCommand.autoLayout(autoLayout);
            b.put("autoLayout", Map.of("threshold", a.threshold(), "startStep", a.startStep()));
        }
        List<Map<String, Object>> list = new ArrayList<>();
        for (String s : subjects) {
            Map<String, String> p = SubjectSpec.fields(s);
            Map<String, Object> subject = new LinkedHashMap<>();
            subject.put("uploadId", upload(client, Path.of(p.get("image"))));
            subject.put("phrase", p.get("phrase"));
            if (p.containsKey("box")) {
                Box box = Box.parse(p.get("box"));
                subject.put("box", List.of(box.x0(), box.y0(), box.x1(), box.y1()));
            }
            if (p.containsKey("scale")) {
                subject.put("scale", SubjectSpec.number(s, "scale", p.get("scale")));
            }
            if (p.containsKey("drop")) {
                subject.put("dropGrounding", Boolean.parseBoolean(p.get("drop").trim()));
            }
            list.add(subject);
        }
        if (!list.isEmpty()) {
            b.put("subjects", list);
        }
        List<Map<String, Object>> controlList = new ArrayList<>();
        for (String c : controls) {
            controlList.add(control(client, c));
        }
        if (!controlList.isEmpty()) {
            b.put("controls", controlList);
        }
        if (initImage != null) {
            Map<String, Object> init = new LinkedHashMap<>();
            init.put("uploadId", upload(client, initImage));
            putIfGiven(init, "strength", strength != null ? strength : recorded == null ? null
                    : recorded.initImageStrength());
            if (mask != null) {
                init.put("mask", Map.of("uploadId", upload(client, mask)));
            }
            b.put("initImage", init);
        } else if (strength != null || mask != null) {
            throw new IllegalArgumentException(GenerateCommand.withoutPicture(strength, mask));
        }
        (recorded != null ? recorded.variation(variation.seed, variation.strength)
                : RecordedRequest.variationOf(variation.seed, variation.strength)).ifPresent(v -> b.put("variation",
                        Map.of("seed", v.seed(), "strength", v.strength())));
        variation.resize(recorded).ifPresent(r -> b.put("seedResizeFrom", Map.of("width", r.width(), "height",
                r.height())));
        perturbedAttention.over(recorded).ifPresent(a -> b.put("perturbedAttention",
                GenerationRecord.perturbedAttentionFields(a)));
        Map<String, Object> hiresFields = new LinkedHashMap<>();
        (recorded != null ? recorded.hiresFields(hires.given()) : hires.given())
                .forEach((k, v) -> putIfGiven(hiresFields, k, v));
        if (!hiresFields.isEmpty()) {
            b.put("hires", hiresFields);
        }
        List<Map<String, Object>> loraList = new ArrayList<>();
        for (String l : loras) {
            loraList.add(lora(l));
        }
        // the recorded LoRAs go by name, as the server's folder names its files; --lora replaces them
        if (loraList.isEmpty() && recorded != null && recorded.get("loras") instanceof List<?> named) {
            for (Object l : named) {
                Map<?, ?> lora = (Map<?, ?>) l;
                Map<String, Object> sent = new LinkedHashMap<>();
                sent.put("name", lora.get("name"));
                sent.put("scale", lora.get("scale"));
                loraList.add(sent);
            }
        }
        if (!loraList.isEmpty()) {
            b.put("loras", loraList);
        }
        return b;
    }

    /**
     * The PNG of {@code --from}, its notes printed. What submit cannot send again is refused, naming the flag that
     * gives it: a sampler none of the built-in schedulers is, the record's pictures (the server has no access to the
     * files) and LoRAs (the server's own are named).
     */
    private RecordedRequest recorded() throws IOException {
        Set<String> given = new HashSet<>();
        if (prompt != null) {
            given.add("prompt");
        }
        if (negativePrompt != null) {
            given.add("negativePrompt");
        }
        RecordedRequest r = RecordedRequest.read(from, given);
        if (scheduler == null && r.unmatchedSampler().isPresent()) {
            throw new IllegalArgumentException("--from " + from + ": its sampler " + r.unmatchedSampler().get()
                    + " is none of Montage's schedulers; name one with --scheduler");
        }
        unsent(r, "subjects", subjects.isEmpty(), "subject pictures", "--subject");
        unsent(r, "controls", controls.isEmpty(), "control pictures", "--control");
        unsent(r, "initImage", initImage == null, "picture to start from", "--init-image");
        PrintWriter err = spec.commandLine().getErr();
        if (!r.unapplied().isEmpty()) {
            err.println("montage: " + from + " has settings nothing here corresponds to, which this request does not "
                    + "apply: " + String.join(", ", r.unapplied()));
        }
        if (initImage == null && r.pictureStrength().isPresent()) {
            err.println("montage: " + from + " ran from a picture at strength " + r.pictureStrength().get()
                    + ", which the PNG does not store: this request starts from noise; --init-image gives the picture");
        }
        return r;
    }

    /** Refuses a recorded field that submit does not send again unless its flag gives it anew. */
    private void unsent(RecordedRequest r, String field, boolean notGiven, String what, String flag) {
        Object value = r.get(field);
        boolean recorded = value instanceof List<?> list ? !list.isEmpty() : value != null;
        if (recorded && notGiven) {
            throw new IllegalArgumentException("--from " + from + " records " + what + ", which submit does not send "
                    + "from the record: give them with " + flag);
        }
    }

    /** Uploads a picture file, returning its upload id. */
    private static String upload(MontageClient client, Path file) throws IOException, InterruptedException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("image " + file + " does not exist");
        }
        return client.upload(Files.readAllBytes(file), file.getFileName().toString());
    }

    /** A control of the request: its picture uploaded, or its keypoints file inline as the JSON object it holds. */
    private Map<String, Object> control(MontageClient client, String spec) throws IOException, InterruptedException {
        Map<String, String> parts = ControlSpec.parts(spec);
        if (parts.containsKey("model")) {
            throw new IllegalArgumentException("--control '" + spec + "': model= chooses a ControlNet folder of a "
                    + "local generation; a server serves the ControlNets its profile configures");
        }
        Map<String, Object> control = new LinkedHashMap<>();
        control.put("type", parts.remove("type"));
        String image = parts.remove("image");
        String keypoints = parts.remove("keypoints");
        if (image != null) {
            Path file = Path.of(image);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("--control '" + spec + "': image " + file + " does not exist");
            }
            control.put("uploadId", client.upload(Files.readAllBytes(file), file.getFileName().toString()));
        } else {
            control.put("keypoints", keypointsObject(spec, Path.of(keypoints)));
        }
        for (String key : new String[] {"scale", "start", "end"}) {
            String value = parts.remove(key);
            if (value != null) {
                control.put(key, ControlSpec.number(spec, value, key, 0));
            }
        }
        if (controlNetContext != null) {
            parts.putIfAbsent(Control.CONTEXT_OPTION, controlNetContext);
        }
        if (!parts.isEmpty()) {
            control.put("options", parts);
        }
        return control;
    }

    private static JsonNode keypointsObject(String spec, Path file) {
        byte[] bytes = ControlSpec.readKeypoints(file);
        try {
            JsonNode json = JSON.readTree(bytes);
            if (json != null && json.isObject()) {
                return json;
            }
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("--control '" + spec + "': keypoints " + file + " is not JSON: "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalArgumentException("--control '" + spec + "': keypoints " + file + " is not OpenPose JSON "
                + "(an object {\"people\": [...]})");
    }

    /** {@code NAME[:SCALE]}: a LoRA of the server's folder, by name. */
    static Map<String, Object> lora(String spec) {
        int colon = spec.lastIndexOf(':');
        String name = colon < 0 ? spec : spec.substring(0, colon);
        if (name.isBlank()) {
            throw new IllegalArgumentException("--lora '" + spec + "': expected NAME[:SCALE], a LoRA of the server's");
        }
        Map<String, Object> lora = new LinkedHashMap<>();
        lora.put("name", name.trim());
        if (colon >= 0) {
            try {
                lora.put("scale", Double.parseDouble(spec.substring(colon + 1).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--lora '" + spec + "': SCALE must be a number, got '"
                        + spec.substring(colon + 1) + "'", e);
            }
        }
        return lora;
    }

    private static void putIfGiven(Map<String, Object> body, String key, Object value) {
        if (value != null) {
            body.put(key, value);
        }
    }
}
