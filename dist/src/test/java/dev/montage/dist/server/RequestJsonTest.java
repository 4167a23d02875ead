package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.ControlNetContext;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.SeedResize;
import dev.montage.api.Variation;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.dist.TinyModel;
import dev.montage.runtime.pipeline.ControlNets;
import dev.montage.runtime.pipeline.SubjectFields;
import java.awt.Color;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** JSON bodies to requests: defaults, every field, and errors under the client's own field paths. */
class RequestJsonTest {
    @TempDir
    Path dir;
    private UploadStore uploads;
    private RequestJson json;
    /** A server whose profile rescales guided requests by 0.7. */
    private RequestJson rescaling;
    private final String picture = Pictures.base64(Pictures.oval(Color.RED, 32));

    @BeforeEach
    void setUp() throws Exception {
        uploads = new UploadStore(dir, 512 * 512);
        ServerSettings limits = ServerSettings.builder().outputDir(dir).maxImageBytes(20_000).build();
        Map<String, Conditioner> networks = Map.of("canny", mock(Conditioner.class), "pose", mock(Conditioner.class));
        Map<String, ConditionPreprocessor> preprocessors = Map.of("canny", preprocessor(OptionSpec.number("low", 0,
                255, "threshold")), "pose", preprocessor(OptionSpec.string("stick_width", "width")));
        json = requestJson(limits, networks, preprocessors, GenerationRequest.builder("").build());
        rescaling = requestJson(limits, networks, preprocessors, GenerationRequest.builder("").guidanceRescale(0.7)
                .build());
    }

    @Test
    void requestsOfABatchNameNoLoraAndAreToldWhy() throws Exception {
        RequestJson batch = RequestJson.forPipeline(TinyModel.pipeline(), ServerSettings.builder().build(), uploads);
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> batch.parse(Http.JSON.readTree(
                "{\"prompt\": \"a dog\", \"loras\": [{\"name\": \"style\"}]}")));
        assertEquals(List.of(new FieldError("loras[0].name", "LoRAs are not taken per request here: the profile's "
                + "models.loras apply to every request")), e.errors());
    }

    /** A preprocessor that declares one option. */
    private static ConditionPreprocessor preprocessor(OptionSpec<?> option) {
        ConditionPreprocessor preprocessor = mock(ConditionPreprocessor.class);
        when(preprocessor.options()).thenReturn(List.of(option));
        return preprocessor;
    }

    private RequestJson requestJson(ServerSettings limits, Map<String, Conditioner> networks,
            Map<String, ConditionPreprocessor> preprocessors, GenerationRequest defaults) {
        return new RequestJson(limits, defaults, RequestJsonTest::schedulerProblems,
                request -> request.prompt().contains("BREAK") ? List.of(new FieldError("prompt", "refused"))
                        : List.of(), "euler",
                new ControlNets(networks, preprocessors, preprocessors.keySet(), ControlNetContext.TEXT_ONLY),
                Optional.of(new SubjectFields(EnumSet.allOf(SubjectResampler.SubjectField.class),
                        "subject resampler 'ms-diffusion'")), uploads,
                new LoraCatalog(Optional.empty(), LoraCatalog.NO_SERVER_FOLDER), () -> -5);
    }

    private RequestJson.Parsed parse(String body) throws Exception {
        return json.parse(Http.JSON.readTree(body));
    }

    private Set<String> errors(String body) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> parse(body));
        Set<String> fields = new TreeSet<>();
        e.errors().stream().map(FieldError::field).forEach(fields::add);
        return fields;
    }

    @Test
    void leftOutFieldsTakeTheDefaultsAndADrawnSeed() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a dog\"}");
        GenerationRequest r = p.request();
        assertEquals(1024, r.width());
        assertEquals(30, r.steps());
        assertEquals(7.5, r.guidanceScale());
        assertEquals(GenerationRequest.DEFAULT_NEGATIVE_PROMPT, r.negativePrompt());
        assertEquals((1L << 53) - 5, r.seed(), "drawn seeds stay below 2^53");
        assertEquals("euler", r.scheduler().orElseThrow(), "the default scheduler is filled in");
        assertEquals(r.seed(), p.parameters().get("seed"));
        assertEquals(List.of(), p.parameters().get("subjects"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyFieldIsRead() throws Exception {
        String upload = uploads.put(Pictures.oval(Color.BLUE, 40));
        RequestJson.Parsed p = parse("""
                {"prompt": "a dog and a cat", "negativePrompt": "", "width": 96, "height": 64, "steps": 4,
                 "guidance": 5, "scale": 0.5, "seed": 12, "scheduler": "ddim", "count": 2,
                 "autoLayout": {"threshold": 0.4, "startStep": 2},
                 "subjects": [
                   {"uploadId": "%s", "phrase": "dog", "box": [0.1, 0.2, 0.5, 0.9], "scale": 0.9},
                   {"image": "data:image/png;base64,%s", "phrase": "cat", "dropGrounding": true}],
                 "controls": [{"type": "canny", "image": "%s", "scale": 0.7, "start": 0.1, "end": 0.8,
                               "options": {"low": "100", "context": "full"}},
                              {"type": "canny", "image": "%s", "options": {"preprocess": "none"}}]}
                """.formatted(upload, picture, picture, picture));
        GenerationRequest r = p.request();
        assertEquals("", r.negativePrompt());
        assertEquals(96, r.width());
        assertEquals(2, r.numImages());
        assertEquals(0.4, r.autoLayout().orElseThrow().threshold());
        assertEquals(new Box(0.1, 0.2, 0.5, 0.9), r.subjects().get(0).box());
        assertEquals(0.9, r.subjects().get(0).scale().orElseThrow());
        assertEquals(Box.NONE, r.subjects().get(1).box());
        assertTrue(r.subjects().get(1).dropGrounding());
        assertEquals(40, r.subjects().get(0).image().getWidth());
        assertEquals(Map.of("low", "100"), r.controls().get(0).options());
        assertEquals(Optional.of(ControlNetContext.FULL), r.controls().get(0).context());
        assertTrue(r.controls().get(0).preprocess());
        assertFalse(r.controls().get(1).preprocess());
        assertEquals(0.8, r.controls().get(0).guidanceEnd());
        List<Map<String, Object>> controls = (List<Map<String, Object>>) p.parameters().get("controls");
        assertEquals(Map.of("low", "100", "context", "full"), controls.get(0).get("options"),
                "the options as the request wrote them");
        assertEquals(Map.of("preprocess", "none"), controls.get(1).get("options"));
        List<Map<String, Object>> subjects = (List<Map<String, Object>>) p.parameters().get("subjects");
        assertEquals(upload, subjects.get(0).get("uploadId"), "a picture is named as a request gives it again");
        assertFalse(subjects.get(1).containsKey("image"), "inline pictures are not repeated");
        assertTrue(subjects.get(1).get("sha256").toString().matches("[0-9a-f]{64}"), subjects.get(1).toString());
        assertEquals(List.of(0.1, 0.2, 0.5, 0.9), subjects.get(0).get("box"));
        assertEquals(Map.of("threshold", 0.4, "startStep", 2), p.parameters().get("autoLayout"));
        assertEquals("ddim", p.parameters().get("scheduler"));
    }

    /** The pipeline's check as the tests need it: ddim reads eta in 0..1, euler reads nothing. */
    private static List<FieldError> schedulerProblems(String id, Map<String, String> options) {
        if (!List.of("ddim", "euler").contains(id)) {
            return List.of(new FieldError("scheduler", "unknown scheduler '" + id + "'"));
        }
        return options.entrySet().stream().filter(e -> !id.equals("ddim") || !e.getKey().equals("eta")
                || Double.parseDouble(e.getValue()) > 1).map(e -> new FieldError("schedulerOptions." + e.getKey(),
                "refused")).toList();
    }

    @Test
    void schedulerOptionsAreTextsCheckedByThePipeline() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a\", \"scheduler\": \"ddim\", \"schedulerOptions\": "
                + "{\"eta\": 0.5}}");
        assertEquals(Map.of("eta", "0.5"), p.request().schedulerOptions());
        assertEquals(Map.of("eta", "0.5"), p.parameters().get("schedulerOptions"), "recorded as the request has it");
        assertEquals(Map.of(), parse("{\"prompt\": \"a\"}").parameters().get("schedulerOptions"));
        assertEquals(Set.of("schedulerOptions.eta"), errors("{\"prompt\": \"a\", \"schedulerOptions\": "
                + "{\"eta\": \"0.5\"}}"), "the default scheduler's check");
        assertEquals(Set.of("schedulerOptions.eta"), errors("{\"prompt\": \"a\", \"scheduler\": \"ddim\", "
                + "\"schedulerOptions\": {\"eta\": 2}}"));
        assertEquals(Set.of("schedulerOptions"), errors("{\"prompt\": \"a\", \"schedulerOptions\": [1]}"));
        assertEquals(Set.of("schedulerOptions.eta"), errors("{\"prompt\": \"a\", \"scheduler\": \"ddim\", "
                + "\"schedulerOptions\": {\"eta\": {\"value\": 1}}}"));
        assertEquals(Set.of("scheduler"), errors("{\"prompt\": \"a\", \"scheduler\": \"eulr\", "
                + "\"schedulerOptions\": {\"eta\": 0.5}}"), "options are checked against a known scheduler only");
        assertEquals(Set.of("controls[0].options.low"), errors("{\"prompt\": \"a\", \"controls\": [{\"type\": "
                + "\"canny\", \"image\": \"" + picture + "\", \"options\": {\"low\": [1]}}]}"),
                "control options take the same values");
    }

    /** What the pipeline's components refuse in the request is a refusal of the request, before it is queued. */
    @Test
    void theComponentsChecksRefuseTheRequest() {
        assertEquals(Set.of("prompt"), errors("{\"prompt\": \"a castle BREAK a moat\"}"));
    }

    @Test
    void wrongTypesAreNamedAndNotReportedTwice() {
        assertEquals(Set.of("prompt", "seed", "width", "steps", "subjects"),
                errors("{\"prompt\": 3, \"seed\": 1.5, \"width\": 1099511627776, \"steps\": \"many\","
                        + " \"subjects\": {}}"));
        assertEquals(Set.of("subjects[0]", "subjects[1].colour"),
                errors("{\"prompt\": \"a\", \"subjects\": [7, {\"image\": \"" + picture + "\", \"colour\": 1}]}"));
    }

    /** The adapter's fields are checked once the subject itself is well formed. */
    @Test
    void subjectFieldsTheAdapterNeedsAreNamed() {
        assertEquals(Set.of("subjects[0].phrase"),
                errors("{\"prompt\": \"a\", \"subjects\": [{\"image\": \"" + picture + "\"}]}"));
    }

    @Test
    void boxesArePositionedErrors() {
        String subject = "{\"image\": \"" + picture + "\", \"phrase\": \"dog\", \"box\": %s}";
        for (String box : new String[] {"[0.1, 0.2, 0.5]", "\"0.1,0.2,0.5,0.9\"", "[0.1, 0.2, 0.5, 1.5]",
            "[0.5, 0.2, 0.1, 0.9]", "[0.1, \"a\", 0.5, 0.9]"}) {
            assertEquals(Set.of("subjects[1].box"), errors("{\"prompt\": \"a\", \"subjects\": ["
                    + subject.formatted("[0, 0, 1, 1]") + ", " + subject.formatted(box) + "]}"), box);
        }
    }

    @Test
    void autoLayoutReportsEachBadValue() {
        assertEquals(Set.of("autoLayout.threshold", "autoLayout.startStep"),
                errors("{\"prompt\": \"a\", \"autoLayout\": {\"threshold\": 0, \"startStep\": -2}}"));
        assertEquals(Set.of("autoLayout.startStep"),
                errors("{\"prompt\": \"a\", \"steps\": 4, \"autoLayout\": {\"threshold\": 0.5, \"startStep\": 4}}"));
        assertEquals(Set.of("autoLayout.threshold", "autoLayout.mode"),
                errors("{\"prompt\": \"a\", \"autoLayout\": {\"startStep\": 1, \"mode\": \"x\"}}"));
    }

    @Test
    void picturesAndControlsNameTheirField() throws Exception {
        assertEquals(Set.of("subjects[0].image"), errors("{\"prompt\": \"a\", \"subjects\": [{\"phrase\": \"dog\"}]}"));
        assertEquals(Set.of("subjects[0].image"), errors("{\"prompt\": \"a\", \"subjects\": [{\"phrase\": \"dog\","
                + " \"image\": \"" + Pictures.base64("not a picture".getBytes()) + "\"}]}"));
        assertEquals(Set.of("subjects[0].uploadId"), errors("{\"prompt\": \"a\", \"subjects\": [{\"phrase\": \"dog\","
                + " \"uploadId\": \"../../etc/passwd\"}]}"));
        assertEquals(Set.of("controls[0].type", "controls[1].start", "controls[2].image"), errors("""
                {"prompt": "a", "controls": [{"type": "depth", "image": "%s"},
                  {"type": "canny", "image": "%s", "start": 0.9, "end": 0.2}, {"type": "canny"}]}
                """.formatted(picture, picture)));
        ApiException tooLarge = assertThrows(ApiException.class, () -> parse("{\"prompt\": \"a\", \"subjects\": "
                + "[{\"phrase\": \"dog\", \"image\": \"" + Pictures.base64(Pictures.noise(100)) + "\"}]}"));
        assertEquals(413, tooLarge.status());
        assertEquals("subjects[0].image", tooLarge.errors().get(0).field());
    }

    /**
     * A hires pass by scale or size, A1111's defaults for what is left out, recorded by its size; its errors name their
     * field, and the server's size limits hold for the second pass's size.
     */
    @Test
    void aHiresPassIsReadByScaleOrSize() throws Exception {
        RequestJson.Parsed scaled = parse("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5}}");
        assertEquals(new Hires(1536, 1536, 0.7, 0, Hires.Upscaler.LATENT), scaled.request().hires().orElseThrow());
        assertEquals(Map.of("width", 1536, "height", 1536, "strength", 0.7, "steps", 0, "upscaler", "latent"),
                scaled.parameters().get("hires"));
        assertEquals(new Hires(1536, 1280, 0.5, 12, Hires.Upscaler.LANCZOS), parse("""
                {"prompt": "a", "hires": {"width": 1536, "height": 1280, "strength": 0.5, "steps": 12,
                  "upscaler": "Lanczos"}}""").request().hires().orElseThrow());
        assertEquals(Optional.empty(), parse("{\"prompt\": \"a\"}").request().hires());

        assertEquals(Set.of("hires.scale"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"width\": 1536}}"));
        assertEquals(Set.of("hires.scale"), errors("{\"prompt\": \"a\", \"hires\": {}}"));
        assertEquals(Set.of("hires.scale"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 5}}"));
        assertEquals(Set.of("hires.height"), errors("{\"prompt\": \"a\", \"hires\": {\"width\": 1536}}"));
        assertEquals(Set.of("hires.upscaler"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"upscaler\": \"R-ESRGAN 4x+\"}}"));
        assertEquals(Set.of("hires.strenght"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"strenght\": 0.5}}"));
        assertEquals(Set.of("hires"), errors("{\"prompt\": \"a\", \"hires\": \"2x\"}"));
        assertEquals(Set.of("hires"), errors("{\"prompt\": \"a\", \"hires\": {\"width\": 512, \"height\": 512}}"));
        assertEquals(Set.of("hires"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5}, \"initImage\": "
                + "{\"image\": \"" + picture + "\"}}"));
        assertEquals(Set.of("hires.width", "hires.height"), errors("{\"prompt\": \"a\", \"hires\": "
                + "{\"scale\": 2.5}}"));
        assertEquals(Set.of("count"), errors("{\"prompt\": \"a\", \"count\": 3, \"hires\": {\"scale\": 2}}"));
    }

    /**
     * A hires pass's own scheduler with its settings, guidance and prompts, recorded as given; the pipeline's check of
     * the scheduler names its fields under {@code hires}, and settings without a scheduler or guidance below 1 are
     * refused.
     */
    @Test
    void aHiresPassesOwnSchedulerAndGuidanceAreReadAndChecked() throws Exception {
        RequestJson.Parsed own = parse("""
                {"prompt": "a", "scheduler": "euler", "hires": {"scale": 1.5, "scheduler": "ddim",
                  "schedulerOptions": {"eta": 0.5}, "guidance": 4, "prompt": "a cat"}}""");
        assertEquals(new Hires(1536, 1536, 0.7, 0, Hires.Upscaler.LATENT).withScheduler("ddim", Map.of("eta", "0.5"))
                .withGuidance(4).withPrompts("a cat", null), own.request().hires().orElseThrow());
        assertEquals(Map.of("width", 1536, "height", 1536, "strength", 0.7, "steps", 0, "upscaler", "latent",
                "scheduler", "ddim", "schedulerOptions", Map.of("eta", "0.5"), "guidance", 4.0, "prompt", "a cat"),
                own.parameters().get("hires"));
        assertEquals(Set.of("hires.negativePrompt"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"negativePrompt\": 3}}"));
        assertEquals(Set.of("hires.scheduler"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"scheduler\": \"fast\"}}"));
        assertEquals(Set.of("hires.schedulerOptions.eta"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"scheduler\": \"ddim\", \"schedulerOptions\": {\"eta\": 2}}}"));
        assertEquals(Set.of("hires.schedulerOptions"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"schedulerOptions\": {\"eta\": 0.5}}}"));
        assertEquals(Set.of("hires.guidance"), errors("{\"prompt\": \"a\", \"hires\": {\"scale\": 1.5, "
                + "\"guidance\": 0.5}}"));
    }

    /** Guidance rescale, recorded where given and refused out of range. */
    @Test
    void guidanceRescaleIsReadAndRecorded() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a\", \"guidanceRescale\": 0.7}");
        assertEquals(0.7, p.request().guidanceRescale());
        assertEquals(0.7, p.parameters().get("guidanceRescale"));
        assertEquals(0.0, parse("{\"prompt\": \"a\"}").request().guidanceRescale());
        assertEquals(Set.of("guidanceRescale"), errors("{\"prompt\": \"a\", \"guidanceRescale\": 2}"));
        // the profile's default where the request is guided and gives none
        assertEquals(0.7, rescaling.parse(Http.JSON.readTree("{\"prompt\": \"a\"}")).request().guidanceRescale());
        assertEquals(0.0, rescaling.parse(Http.JSON.readTree("{\"prompt\": \"a\", \"guidance\": 1}")).request()
                .guidanceRescale());
        assertEquals(0.2, rescaling.parse(Http.JSON.readTree("{\"prompt\": \"a\", \"guidanceRescale\": 0.2}"))
                .request().guidanceRescale());
    }

    /** A variation's seed and strength, both required; recorded as given. */
    @Test
    void aVariationIsReadWithItsSeedAndStrength() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a\", \"variation\": {\"seed\": 9, \"strength\": 0.25}}");
        assertEquals(new Variation(9, 0.25), p.request().variation().orElseThrow());
        assertEquals(Map.of("seed", 9L, "strength", 0.25), p.parameters().get("variation"));
        assertEquals(Set.of("variation.strength"), errors("{\"prompt\": \"a\", \"variation\": {\"seed\": 9}}"));
        assertEquals(Set.of("variation.seed"), errors("{\"prompt\": \"a\", \"variation\": {\"strength\": 1}}"));
        assertEquals(Set.of("variation.strength"), errors("{\"prompt\": \"a\", \"variation\": {\"seed\": 9, "
                + "\"strength\": 1.5}}"));
        assertEquals(Set.of("variation.sead"), errors("{\"prompt\": \"a\", \"variation\": {\"sead\": 9, "
                + "\"strength\": 0.5, \"seed\": 9}}"));
        assertEquals(Set.of("variation"), errors("{\"prompt\": \"a\", \"variation\": 9}"));
    }

    /**
     * Perturbed-attention guidance: its scale required, the adaptive scale 0 and the layers diffusers' mid where left
     * out; recorded whole; each wrong value named by its field.
     */
    @Test
    void perturbedAttentionGuidanceIsReadWithItsScaleAndLayers() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a\", \"perturbedAttention\": {\"scale\": 3}}");
        assertEquals(PerturbedAttention.of(3), p.request().perturbedAttention().orElseThrow());
        assertEquals(Map.of("scale", 3.0, "adaptiveScale", 0.0, "layers", List.of("mid")), p.parameters()
                .get("perturbedAttention"));
        assertEquals(new PerturbedAttention(2, 0.01, List.of("up_blocks\\.0", "mid")), parse("{\"prompt\": \"a\", "
                + "\"perturbedAttention\": {\"scale\": 2, \"adaptiveScale\": 0.01, \"layers\": [\"up_blocks\\\\.0\", "
                + "\"mid\"]}}").request().perturbedAttention().orElseThrow());
        assertEquals(Set.of("perturbedAttention.scale"), errors("{\"prompt\": \"a\", \"perturbedAttention\": {}}"));
        assertEquals(Set.of("perturbedAttention.scale"), errors("{\"prompt\": \"a\", \"perturbedAttention\": "
                + "{\"scale\": 0}}"));
        assertEquals(Set.of("perturbedAttention.adaptiveScale", "perturbedAttention.layers[1]"), errors("{\"prompt\": "
                + "\"a\", \"perturbedAttention\": {\"scale\": 1, \"adaptiveScale\": -1, \"layers\": [\"mid\", "
                + "\"(\"]}}"));
        assertEquals(Set.of("perturbedAttention.layers[0]"), errors("{\"prompt\": \"a\", \"perturbedAttention\": "
                + "{\"scale\": 1, \"layers\": [3]}}"));
        assertEquals(Set.of("perturbedAttention.layers"), errors("{\"prompt\": \"a\", \"perturbedAttention\": "
                + "{\"scale\": 1, \"layers\": \"mid\"}}"));
        assertEquals(Set.of("perturbedAttention.layer"), errors("{\"prompt\": \"a\", \"perturbedAttention\": "
                + "{\"scale\": 1, \"layer\": [\"mid\"]}}"));
        assertEquals(Set.of("perturbedAttention"), errors("{\"prompt\": \"a\", \"perturbedAttention\": 3}"));
    }

    /** The size a seed's noise is drawn at: width and height required, multiples of 8; recorded as given. */
    @Test
    void aSeedResizeIsReadWithItsSize() throws Exception {
        RequestJson.Parsed p = parse("{\"prompt\": \"a\", \"seedResizeFrom\": {\"width\": 512, \"height\": 768}}");
        assertEquals(new SeedResize(512, 768), p.request().seedResizeFrom().orElseThrow());
        assertEquals(Map.of("width", 512, "height", 768), p.parameters().get("seedResizeFrom"));
        assertEquals(Set.of("seedResizeFrom.height"), errors("{\"prompt\": \"a\", \"seedResizeFrom\": {\"width\": "
                + "512}}"));
        assertEquals(Set.of("seedResizeFrom"), errors("{\"prompt\": \"a\", \"seedResizeFrom\": {\"width\": 500, "
                + "\"height\": 512}}"));
        assertEquals(Set.of("seedResizeFrom.depth"), errors("{\"prompt\": \"a\", \"seedResizeFrom\": {\"width\": "
                + "512, \"height\": 512, \"depth\": 1}}"));
    }

    /**
     * A picture to start from, inline or uploaded, at its strength (the default one when left out), recorded with the
     * SHA-256 of its bytes; its errors name their field.
     */
    @Test
    void anInitImageIsReadWithItsStrength() throws Exception {
        RequestJson.Parsed p = parse("""
                {"prompt": "a", "steps": 10, "initImage": {"image": "%s", "strength": 0.6}}""".formatted(picture));
        InitImage init = p.request().initImage().orElseThrow();
        assertEquals(0.6, init.strength());
        assertEquals(32, init.image().getWidth());
        assertEquals(6, p.request().stepsTaken());
        Map<?, ?> recorded = (Map<?, ?>) p.parameters().get("initImage");
        assertEquals(Set.of("sha256", "strength"), recorded.keySet());
        assertEquals(0.6, recorded.get("strength"));
        assertEquals(InitImage.DEFAULT_STRENGTH, parse("{\"prompt\": \"a\", \"initImage\": {\"image\": \""
                + picture + "\"}}").request().initImage().orElseThrow().strength());
        assertEquals(Optional.empty(), parse("{\"prompt\": \"a\"}").request().initImage());

        assertEquals(Set.of("initImage.strength"), errors("{\"prompt\": \"a\", \"initImage\": {\"image\": \""
                + picture + "\", \"strength\": 1.5}}"));
        assertEquals(Set.of("initImage.strength"), errors("{\"prompt\": \"a\", \"steps\": 4, \"initImage\": "
                + "{\"image\": \"" + picture + "\", \"strength\": 0.2}}"));
        assertEquals(Set.of("initImage.image"), errors("{\"prompt\": \"a\", \"initImage\": {\"strength\": 0.5}}"));
        assertEquals(Set.of("initImage.strenght"), errors("{\"prompt\": \"a\", \"initImage\": {\"image\": \""
                + picture + "\", \"strenght\": 0.5}}"));
        assertEquals(Set.of("initImage"), errors("{\"prompt\": \"a\", \"initImage\": \"start.png\"}"));

        RequestJson.Parsed masked = parse("""
                {"prompt": "a", "initImage": {"image": "%s", "mask": {"image": "%s"}}}""".formatted(picture, picture));
        assertEquals(32, masked.request().initImage().orElseThrow().mask().getWidth());
        assertEquals(InitImage.DEFAULT_MASKED_STRENGTH, masked.request().initImage().orElseThrow().strength());
        Map<?, ?> maskRecord = (Map<?, ?>) ((Map<?, ?>) masked.parameters().get("initImage")).get("mask");
        assertEquals(Set.of("sha256"), maskRecord.keySet());
        assertEquals(Set.of("initImage.mask.image"), errors("{\"prompt\": \"a\", \"initImage\": {\"image\": \""
                + picture + "\", \"mask\": {}}}"));
        assertEquals(Set.of("initImage.mask"), errors("{\"prompt\": \"a\", \"initImage\": {\"image\": \""
                + picture + "\", \"mask\": \"white\"}}"));
    }

    @Test
    void keypointsAreTheOpenPoseJsonTheirPreprocessorReads() throws Exception {
        String openPose = """
                {"people": [{"pose_keypoints_2d": [%s]}], "canvas_width": 64, "canvas_height": 64}
                """.formatted(String.join(", ", Collections.nCopies(54, "12.5")));
        RequestJson.Parsed p = parse("""
                {"prompt": "a dancer", "width": 64, "height": 64, "controls": [
                  {"type": "canny", "image": "%s"},
                  {"type": "pose", "keypoints": %s, "scale": 0.6, "end": 0.5, "options": {"stick_width": "auto"}}]}
                """.formatted(picture, openPose));
        Control pose = p.request().controls().get(1);
        assertNull(pose.image());
        ControlData data = pose.data();
        assertEquals("controls[1].keypoints", data.source(), "the plugin names the field in its errors");
        assertEquals(Http.JSON.readTree(openPose), Http.JSON.readTree(data.bytes()));
        assertEquals(0.6, pose.conditioningScale());
        assertEquals(0.5, pose.guidanceEnd());
        assertEquals(Map.of("stick_width", "auto"), pose.options());
        assertNull(p.request().controls().get(0).data());
    }

    @Test
    void keypointsErrorsNameTheirField() {
        String keypoints = "{\"people\": []}";
        assertEquals(Set.of("controls[0].keypoints", "controls[1].keypoints", "controls[2].keypoints",
                "controls[3].keypoints", "controls[4].image"), errors("""
                {"prompt": "a", "controls": [
                  {"type": "pose", "keypoints": %s, "image": "%s"},
                  {"type": "pose", "keypoints": %s, "uploadId": "u1"},
                  {"type": "pose", "keypoints": "pose.json"},
                  {"type": "pose", "keypoints": %s, "options": {"preprocess": "none"}},
                  {"type": "pose"}]}
                """.formatted(keypoints, picture, keypoints, keypoints)));
        InvalidRequestException neither = assertThrows(InvalidRequestException.class,
                () -> parse("{\"prompt\": \"a\", \"controls\": [{\"type\": \"pose\"}]}"));
        assertEquals("give exactly one of image (base64 PNG, JPEG or WebP), uploadId and keypoints (OpenPose JSON)",
                neither.errors().get(0).message());
        assertEquals(Set.of("subjects[0].keypoints"), errors("""
                {"prompt": "a", "subjects": [{"phrase": "dog", "image": "%s", "keypoints": %s}]}
                """.formatted(picture, keypoints)), "subjects take pictures only");
    }
}
