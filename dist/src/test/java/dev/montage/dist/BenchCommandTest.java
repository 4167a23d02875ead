package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code montage bench} on a tiny random model: one run of every stage, the table and the JSON it writes. */
class BenchCommandTest {
    private static final Set<String> STAGES = Set.of("load pipeline", "encode", "unet step (cfg)", "vae decode",
            "generate");

    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = dir.resolve("model");
        RandomModel.write(model, "tiny", TensorDType.F32, 3,
                ComponentRegistry.fromClasspath(BenchCommandTest.class.getClassLoader()));
    }

    private record Outcome(int code, String out, String err) {
    }

    private static Outcome bench(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Montage.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of("bench", "--model", model.toString(), "--device", "cpu"));
        all.addAll(List.of(args));
        int code = cli.execute(all.toArray(new String[0]));
        return new Outcome(code, out.toString(), err.toString());
    }

    @Test
    void everyStageOfBothDtypesIsInTheTableAndTheJson() throws Exception {
        Path json = dir.resolve("out").resolve("bench.json");
        Outcome o = bench("--sizes", "64", "--subjects", "1", "--dtypes", "float32,bfloat16", "--runs", "1",
                "--warmup", "0", "--steps", "2", "--json", json.toString());
        assertEquals(0, o.code(), o.err());

        List<String> lines = o.out().lines().toList();
        assertTrue(lines.get(0).matches("stage\\s+dtype\\s+size\\s+subj\\s+median s\\s+min s\\s+max s\\s+cpu s\\s+"
                + "runs\\s+peak RSS\\s+note"), lines.get(0));
        Set<String> tableStages = new LinkedHashSet<>();
        for (String line : lines.subList(1, lines.size() - 1)) {
            tableStages.add(line.substring(0, 18).trim());
            assertTrue(line.contains("float32") || line.contains("bfloat16"), line);
        }
        assertEquals(STAGES, tableStages);
        assertTrue(o.err().contains("montage bench:   denoising model '"), o.err());
        assertTrue(lines.get(lines.size() - 1).startsWith("machine: "), lines.get(lines.size() - 1));

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertTrue(root.path("machine").path("cores").asInt() > 0);
        assertEquals(model.toString(), root.path("model").asText());
        assertEquals(2, root.path("settings").path("steps").asInt());
        JsonNode results = root.path("results");
        assertEquals(2 * STAGES.size(), results.size(), "every stage once per dtype");
        Set<String> jsonStages = new LinkedHashSet<>();
        for (JsonNode r : results) {
            jsonStages.add(r.path("stage").asText());
            assertEquals(1, r.path("seconds").size(), r.toString());
            assertTrue(r.path("median_s").asDouble() > 0, r.toString());
            assertEquals(1, r.path("cpu_seconds").size(), r.toString());
        }
        assertEquals(STAGES, jsonStages);
        for (JsonNode r : results) {
            if (!r.path("stage").asText().equals("load pipeline")) {
                assertEquals(64, r.path("size").asInt(), r.toString());
                assertEquals(1, r.path("subjects").asInt(), r.toString());
            } else {
                // each component's load, within the whole
                JsonNode loads = r.path("details").path("component_load_s");
                Set<String> kinds = new LinkedHashSet<>();
                double sum = 0;
                for (Iterator<Map.Entry<String, JsonNode>> it = loads.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> load = it.next();
                    kinds.add(load.getKey().substring(0, load.getKey().indexOf(" '")));
                    assertTrue(load.getValue().asDouble() >= 0, loads.toString());
                    sum += load.getValue().asDouble();
                }
                assertEquals(Set.of("text encoder", "image encoder", "subject resampler", "denoising model",
                        "attention processor", "latent decoder"), kinds, loads.toString());
                assertTrue(sum <= r.path("median_s").asDouble(), r.toString());
            }
            if (r.path("stage").asText().equals("generate")) {
                JsonNode details = r.path("details");
                assertEquals(2, details.path("steps").asInt());
                assertTrue(details.path("step_s_median").asDouble() > 0, details.toString());
                assertTrue(details.path("first_step_s").asDouble() > 0, details.toString());
                assertTrue(details.path("encode_s_median").asDouble() > 0, details.toString());
                assertTrue(details.path("decode_s_median").asDouble() > 0, details.toString());
                assertEquals(2, details.path("rss_after_step_bytes").size(), details.toString());
                // the parts of a generation are within its whole
                double whole = r.path("median_s").asDouble();
                assertTrue(details.path("encode_s_median").asDouble() + details.path("first_step_s").asDouble()
                        + details.path("step_s_median").asDouble() + details.path("decode_s_median").asDouble()
                        <= whole, r.toString());
            }
        }
    }

    @Test
    void stagesCanBeChosenAndTheUnetRowTimesStepsAfterTheWarmUpOnes() throws Exception {
        Path json = dir.resolve("unet").resolve("bench.json");
        Outcome o = bench("--sizes", "64", "--subjects", "2", "--dtypes", "float32", "--runs", "2", "--warmup", "1",
                "--stages", "unet", "--json", json.toString());
        assertEquals(0, o.code(), o.err());
        List<String> rows = o.out().lines().filter(l -> l.startsWith("unet step")).toList();
        assertEquals(1, rows.size(), o.out());
        assertTrue(rows.get(0).matches("unet step \\(cfg\\)\\s+float32\\s+64\\s+2(\\s+[0-9.]+){4}\\s+2\\s.*"),
                rows.get(0));
        assertEquals(3, o.out().lines().count(), "header, one figure, machine line");
        JsonNode unet = new ObjectMapper().readTree(json.toFile()).path("results").get(0);
        assertEquals(2, unet.path("seconds").size(), unet.toString());
        for (JsonNode step : unet.path("seconds")) {
            assertTrue(step.asDouble() > 0, unet.toString());
        }
        assertTrue(unet.path("details").path("first_run_s").asDouble() > 0, unet.toString());
    }

    @Test
    void aColdCacheIsNotedOnTheLoadRow() throws Exception {
        Path json = dir.resolve("cold").resolve("bench.json");
        Outcome o = bench("--sizes", "64", "--subjects", "0", "--dtypes", "float32", "--runs", "1", "--warmup", "0",
                "--steps", "1", "--stages", "load,unet,generate", "--cold-cache", "--json", json.toString());
        assertEquals(0, o.code(), o.err());

        List<String> rows = o.out().lines().filter(l -> l.startsWith("load pipeline")).toList();
        assertEquals(1, rows.size(), o.out());
        assertTrue(rows.get(0).endsWith("cold: files dropped from the page cache first"), rows.get(0));
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertTrue(root.path("settings").path("cold_cache").asBoolean());
        assertEquals(List.of("load pipeline", "unet step (cfg)", "generate"), root.path("results").findValuesAsText(
                "stage"));
    }

    /** {@code --set} gives the measured pipeline a profile key, which the JSON records; a bad one stops the run. */
    @Test
    void aProfileKeyIsSetOnTheMeasuredPipeline() throws Exception {
        Path json = dir.resolve("set").resolve("bench.json");
        Outcome o = bench("--sizes", "64", "--subjects", "0", "--dtypes", "float32", "--runs", "1", "--warmup", "0",
                "--stages", "unet", "--set", "options.unet.freeu=0.9,0.2,1.3,1.4", "--json", json.toString());
        assertEquals(0, o.code(), o.err());
        assertEquals("0.9,0.2,1.3,1.4", new ObjectMapper().readTree(json.toFile()).path("settings").path("set")
                .path("options.unet.freeu").asText());
        Outcome bad = bench("--sizes", "64", "--subjects", "0", "--dtypes", "float32", "--runs", "1", "--warmup",
                "0", "--stages", "unet", "--set", "options.unet.freeu=0.9");
        assertEquals(2, bad.code(), bad.out());
        assertTrue(bad.err().contains("options.unet.freeu"), bad.err());
    }

    /** {@code --pag-scale} measures steps of perturbed-attention guidance, named so and recorded in the JSON. */
    @Test
    void perturbedAttentionStepsAreMeasuredAsSuch() throws Exception {
        Path json = dir.resolve("pag").resolve("bench.json");
        Outcome o = bench("--sizes", "64", "--subjects", "1", "--dtypes", "float32", "--runs", "1", "--warmup", "0",
                "--stages", "unet", "--pag-scale", "3", "--json", json.toString());
        assertEquals(0, o.code(), o.err());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals(3.0, root.path("settings").path("pag_scale").asDouble());
        assertEquals(List.of("unet step (cfg+pag)"), root.path("results").findValuesAsText("stage"));
        Outcome bad = bench("--pag-scale", "-1");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("perturbed-attention guidance scale"), bad.err());
    }

    @Test
    void badOptionsAreNamedBeforeAnyModelIsTouched() {
        Outcome stage = bench("--stages", "unet,warp");
        assertEquals(2, stage.code());
        assertTrue(stage.err().contains("unknown stage 'warp'"), stage.err());
        Outcome subjects = bench("--subjects", "5");
        assertEquals(2, subjects.code());
        assertTrue(subjects.err().contains("subject counts must be 0..4"), subjects.err());
        Outcome runs = bench("--runs", "0");
        assertEquals(2, runs.code());
        assertTrue(runs.err().contains("runs and steps must be at least 1"), runs.err());
        Outcome warmUp = bench("--warm-up", "full");
        assertEquals(2, warmUp.code());
        assertTrue(warmUp.err().contains("unknown warm-up 'full' (expected one of none, small, default_size)"),
                warmUp.err());
    }

    @Test
    void theWarmUpIsItsOwnRowAtEachSizeBeforeItsFigures() throws Exception {
        Path json = dir.resolve("warm").resolve("bench.json");
        Outcome o = bench("--sizes", "64,96", "--subjects", "1", "--dtypes", "float32", "--runs", "1", "--warmup",
                "0", "--stages", "unet", "--warm-up", "default_size", "--json", json.toString());
        assertEquals(0, o.code(), o.err());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals("default_size", root.path("settings").path("warm_up").asText());
        assertEquals(List.of("warm-up", "unet step (cfg)", "warm-up", "unet step (cfg)"),
                root.path("results").findValuesAsText("stage"));
        assertEquals(List.of(64, 64, 96, 96), root.path("results").findValues("size").stream()
                .map(JsonNode::asInt).toList());
    }
}
