package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.GenerationRequest;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.SeedResize;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What another tool's PNG records, read into a request's fields. */
@SuppressWarnings("unchecked")
class ImportedRecordTest {
    private static final String A1111 = "a castle\nSteps: 3, Sampler: Euler, Seed: 1, Size: 64x64";

    private static ImportedRecord a1111(String more) {
        return ImportedRecord.of(Map.of("parameters", A1111 + more)).orElseThrow();
    }

    /**
     * Forge's built-in perturbed-attention guidance on the whole run is the request's at its scale; with an
     * attenuation or a window of steps, which Montage's does not have, it is named among the settings not applied;
     * turned off (or at scale 0) it is nothing.
     */
    @Test
    void forgesPerturbedAttentionGuidanceIsReadWhereItActsAtEveryStep() {
        ImportedRecord whole = a1111(", pagi_enabled: True, pagi_scale: 2.5, pagi_attenuation: 0.0, "
                + "pagi_start_step: 0.0, pagi_end_step: 1.0");
        assertEquals(GenerationRecord.perturbedAttentionFields(PerturbedAttention.of(2.5)), whole.values().get(
                "perturbedAttention"));
        assertEquals(List.of(), whole.unapplied());
        ImportedRecord attenuated = a1111(", pagi_enabled: True, pagi_scale: 2.5, pagi_attenuation: 10");
        assertFalse(attenuated.values().containsKey("perturbedAttention"));
        assertEquals(List.of("pagi_enabled: True", "pagi_scale: 2.5", "pagi_attenuation: 10"),
                attenuated.unapplied());
        assertEquals(List.of("pagi_end_step: 0.6"), a1111(", pagi_enabled: True, pagi_end_step: 0.6").unapplied()
                .subList(1, 2));
        for (String off : List.of(", pagi_enabled: False, pagi_scale: 3", ", pagi_enabled: True, pagi_scale: 0")) {
            ImportedRecord none = a1111(off);
            assertFalse(none.values().containsKey("perturbedAttention"), off);
            assertEquals(List.of(), none.unapplied(), off);
        }
    }

    /**
     * A Montage PNG's A1111 text carries guidance on the middle block at one scale as Forge writes it, and reads back
     * as the same guidance; other layers or an adaptive scale, which Forge cannot run, are left out of it.
     */
    @Test
    void montagesGuidanceIsWrittenAsForgeWritesIt() {
        GenerationRequest guided = GenerationRequest.builder("a castle").size(64, 64).steps(3)
                .perturbedAttention(PerturbedAttention.of(2.5)).build();
        String text = GenerationRecord.a1111(guided, Map.of()).text();
        assertTrue(text.contains("pagi_enabled: True, pagi_scale: 2.5"), text);
        assertEquals(Optional.of(GenerationRecord.perturbedAttentionFields(PerturbedAttention.of(2.5))), Optional
                .ofNullable(ImportedRecord.of(Map.of("parameters", text)).orElseThrow().values().get(
                        "perturbedAttention")));
        for (PerturbedAttention other : List.of(new PerturbedAttention(2.5, 0.001, List.of()),
                new PerturbedAttention(2.5, 0, List.of("up")))) {
            assertFalse(GenerationRecord.a1111(guided.toBuilder().perturbedAttention(other).build(), Map.of()).text()
                    .contains("pagi_"), other.toString());
        }
    }

    /**
     * A1111 takes its extra-network tags out of the prompts before encoding them: a LoRA tag gives the LoRA by name at
     * its weight (1 without one); one with another UNet weight, a hypernetwork and a LoRA given twice are named among
     * the settings not applied; the prompts keep the rest of their text.
     */
    @Test
    void a1111sLoraTagsAreTakenOutOfThePromptAsLoras() {
        ImportedRecord r = ImportedRecord.of(Map.of("parameters", "a castle <lora:ink:0.8>, <lyco:paper>, "
                + "<lora:split:0.5:1>, <hypernet:old:1>, <lora:ink:0.4>\nNegative prompt: fog <lora:blur:-1>\n"
                + "Steps: 3, Sampler: Euler, Seed: 1, Size: 64x64, Lora hashes: \"ink: 0123456789ab\"")).orElseThrow();
        assertEquals("a castle , , , , ", r.values().get("prompt"));
        assertEquals("fog ", r.values().get("negativePrompt"));
        assertEquals(List.of(Map.of("name", "ink", "scale", 0.8), Map.of("name", "paper", "scale", 1.0),
                Map.of("name", "blur", "scale", -1.0)), r.values().get("loras"));
        assertEquals(List.of("<lora:split:0.5:1> (its UNet weight is not its text encoders')", "<hypernet:old:1>",
                "LoRA ink at 0.4, given again"), r.unapplied());
        assertFalse(a1111("").values().containsKey("loras"));
    }

    /** ComfyUI's LoraLoader nodes give their LoRAs by file name without the folder and extension. */
    @Test
    void comfyUisLoraNodesGiveLorasByName() {
        ImportedRecord r = ImportedRecord.of(Map.of("prompt", ComfyWorkflows.of("euler", "normal",
                ComfyPromptTest.EMPTY, ComfyPromptTest.TEXT).replace("ink.safetensors", "styles/ink.safetensors")))
                .orElseThrow();
        assertEquals(List.of(Map.of("name", "ink", "scale", 0.8)), r.values().get("loras"));
        assertEquals(List.of(), r.unapplied());
    }

    /**
     * ComfyUI's second pass is the hires pass: its size and upscaler; ComfyUI's schedule of steps / denoise steps with
     * the strength that takes its steps; its sampler, cfg and prompts where they are not the first's; its own seed
     * named as not applied.
     */
    @Test
    void comfyUisSecondPassIsTheHiresPass() {
        String plain = ComfyWorkflows.of("dpmpp_2m", "karras", ComfyPromptTest.EMPTY, ComfyPromptTest.TEXT);
        ImportedRecord same = ImportedRecord.of(Map.of("prompt", ComfyWorkflows.withSecondPass(plain,
                "LatentUpscaleBy", "\"upscale_method\": \"bilinear\", \"scale_by\": 1.5", "\"seed\": 42, "
                        + "\"steps\": 7, \"cfg\": 5.5, \"sampler_name\": \"dpmpp_2m\", \"scheduler\": \"karras\", "
                        + "\"denoise\": 0.3"))).orElseThrow();
        Map<String, Object> hires = (Map<String, Object>) same.values().get("hires");
        assertEquals(List.of(96, 48, 23, "latent"), List.of(hires.get("width"), hires.get("height"), hires.get(
                "steps"), hires.get("upscaler")), "int(7 / 0.3) = 23 steps");
        double strength = (Double) hires.get("strength");
        assertEquals(7, (int) (23 * strength), "the strength takes the sampler's 7 steps");
        assertEquals(7.0 / 23, strength, 1e-12);
        assertFalse(hires.containsKey("scheduler") || hires.containsKey("guidance") || hires.containsKey("prompt"));
        assertEquals(List.of(), same.unapplied());
        ImportedRecord own = ImportedRecord.of(Map.of("prompt", ComfyWorkflows.withSecondPass(plain,
                "LatentUpscaleBy", "\"upscale_method\": \"bilinear\", \"scale_by\": 2", "\"seed\": 9, "
                        + "\"steps\": 10, \"cfg\": 3.0, \"sampler_name\": \"euler\", \"scheduler\": \"sgm_uniform\", "
                        + "\"denoise\": 0.5"))).orElseThrow();
        Map<String, Object> ownHires = (Map<String, Object>) own.values().get("hires");
        assertEquals(List.of("euler", Map.of("timestep_spacing", "trailing"), 3.0, 20, 0.5), List.of(ownHires.get(
                "scheduler"), ownHires.get("schedulerOptions"), ownHires.get("guidance"), ownHires.get("steps"),
                ownHires.get("strength")));
        assertEquals(List.of("the second sampler's seed 9 (the hires pass takes the first's)"), own.unapplied());
    }

    /**
     * A1111's "Seed resize from" is the request's, its sides taken down to multiples of 8; one that leaves no latent is
     * named as not applied; Montage writes it back so.
     */
    @Test
    void a1111sSeedResizeIsTheRequests() {
        assertEquals(Map.of("width", 512, "height", 768), a1111(", Seed resize from: 515x768").values().get(
                "seedResizeFrom"));
        ImportedRecord tiny = a1111(", Seed resize from: 4x768");
        assertFalse(tiny.values().containsKey("seedResizeFrom"));
        assertEquals(List.of("Seed resize from: 4x768"), tiny.unapplied());
        GenerationRequest resized = GenerationRequest.builder("a castle").size(64, 64).steps(3)
                .seedResizeFrom(new SeedResize(32, 48)).build();
        assertEquals("32x48", GenerationRecord.a1111(resized, Map.of()).values().get("Seed resize from"));
    }

    /** Chunks of neither tool are nothing; an unreadable record is named. */
    @Test
    void otherChunksAreNothing() {
        assertEquals(Optional.empty(), ImportedRecord.of(Map.of("Software", "GIMP")));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ImportedRecord.of(Map.of("parameters",
                "a castle\nSteps: 2, Seed: 1, Size: big"))).getMessage().startsWith("its parameters text has a "
                + "malformed value"));
    }
}
