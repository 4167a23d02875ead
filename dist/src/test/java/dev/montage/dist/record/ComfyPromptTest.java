package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A ComfyUI workflow's generation, as its PNG's {@code prompt} chunk writes it in ComfyUI's API form. */
class ComfyPromptTest {

    static final String EMPTY = "{\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 64, \"height\": 32, "
            + "\"batch_size\": 2}}";
    static final String ENCODED = "{\"class_type\": \"VAEEncode\", \"inputs\": {\"pixels\": [\"11\", 0], \"vae\": "
            + "[\"4\", 2]}}";
    static final String TEXT = "{\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"a castle, at dusk\", "
            + "\"clip\": [\"4\", 1]}}";

    @Test
    void aTextToImageWorkflowGivesItsSamplersSettings() {
        ComfyPrompt c = ComfyPrompt.parse(ComfyWorkflows.of("dpmpp_2m", "karras", EMPTY, TEXT));
        assertEquals(List.of("a castle, at dusk", "fog, blur", 42L, 2, 5.5, 2), List.of(c.prompt().orElseThrow(),
                c.negativePrompt().orElseThrow(), c.seed(), c.steps(), c.cfg(), c.count()));
        assertArrayEquals(new int[] {64, 32}, c.size().orElseThrow());
        assertEquals(List.of(new ComfyPrompt.LoraNode("ink.safetensors", 0.8)), c.loras());
        assertEquals(List.of(), c.unapplied());
        assertEquals(Optional.of(Map.entry("dpmpp-2m-karras", Map.of("timestep_spacing", "linspace"))),
                c.builtIn());
        ComfyPrompt sdxl = ComfyPrompt.parse(ComfyWorkflows.of("euler", "normal", EMPTY, "{\"class_type\": "
                + "\"CLIPTextEncodeSDXL\", \"inputs\": {\"text_g\": \"a red fox\", \"text_l\": \"a red fox\"}}"));
        assertEquals(Optional.of("a red fox"), sdxl.prompt(), "CLIPTextEncodeSDXL's text_g");
    }

    /**
     * ComfyUI's samplers and schedules as the built-in schedulers that are the same method: normal is diffusers'
     * linspace spacing, karras and exponential the levels between its ends, simple and sgm_uniform the trailing
     * spacing, ddim_uniform the leading one from timestep 1; a {@code _gpu} sampler draws the same noise elsewhere; a
     * sampler or schedule none is gives none.
     */
    @Test
    void comfyUisSamplersAndSchedulesAreTheBuiltInSchedulers() {
        assertEquals(Optional.of(Map.entry("dpmpp-2m-sde", Map.of("timestep_spacing", "linspace",
                "use_exponential_sigmas", "true"))), ComfyPrompt.parse(ComfyWorkflows.of("dpmpp_2m_sde_gpu", "exponential",
                        EMPTY, TEXT)).builtIn());
        assertEquals(Optional.of(Map.entry("euler-ancestral", Map.of("timestep_spacing", "linspace"))),
                ComfyPrompt.parse(ComfyWorkflows.of("euler_ancestral", "normal", EMPTY, TEXT)).builtIn());
        assertEquals(Optional.of(Map.entry("dpmpp-3m-sde-karras", Map.of("timestep_spacing", "linspace"))),
                ComfyPrompt.parse(ComfyWorkflows.of("dpmpp_3m_sde", "karras", EMPTY, TEXT)).builtIn());
        assertEquals(Optional.of(Map.entry("lcm", Map.of())), ComfyPrompt.parse(ComfyWorkflows.of("lcm", "normal", EMPTY,
                TEXT)).builtIn(), "LCM takes its timesteps from its distillation schedule");
        assertEquals(Optional.of(Map.entry("unipc", Map.of("timestep_spacing", "linspace", "solver_type", "bh1"))),
                ComfyPrompt.parse(ComfyWorkflows.of("uni_pc", "normal", EMPTY, TEXT)).builtIn());
        assertEquals(Optional.of(Map.entry("euler-karras", Map.of("timestep_spacing", "linspace"))),
                ComfyPrompt.parse(ComfyWorkflows.of("ddim", "karras", EMPTY, TEXT)).builtIn(), "ComfyUI's ddim is Euler");
        assertEquals(Optional.of(Map.entry("dpmpp-2m-sde", Map.of("timestep_spacing", "linspace", "solver_type",
                "heun"))), ComfyPrompt.parse(ComfyWorkflows.of("dpmpp_2m_sde_heun_gpu", "normal", EMPTY, TEXT)).builtIn());
        for (String scheduler : List.of("simple", "sgm_uniform")) {
            assertEquals(Optional.of(Map.entry("dpmpp-2m", Map.of("timestep_spacing", "trailing"))), ComfyPrompt.parse(
                    ComfyWorkflows.of("dpmpp_2m", scheduler, EMPTY, TEXT)).builtIn(), scheduler);
            assertEquals(Optional.of(Map.entry("lcm", Map.of())), ComfyPrompt.parse(ComfyWorkflows.of("lcm", scheduler,
                    EMPTY, TEXT)).builtIn(), scheduler);
        }
        assertEquals(Optional.of(Map.entry("euler-ancestral", Map.of("timestep_spacing", "leading", "steps_offset",
                "1"))), ComfyPrompt.parse(ComfyWorkflows.of("euler_ancestral", "ddim_uniform", EMPTY, TEXT)).builtIn());
        assertEquals(Optional.of(Map.entry("dpmpp-2m", Map.of("timestep_spacing", "linspace", "use_kl_optimal_sigmas",
                "true"))), ComfyPrompt.parse(ComfyWorkflows.of("dpmpp_2m", "kl_optimal", EMPTY, TEXT)).builtIn());
        for (String[] none : new String[][] {{"dpmpp_2m", "linear_quadratic"}, {"uni_pc", "karras"}, {"res_multistep",
            "normal"}, {"euler_ancestral", "exponential"}, {"dpmpp_2m", "beta"}, {"lcm", "karras"}, {"lcm",
                "ddim_uniform"}}) {
            assertEquals(Optional.empty(), ComfyPrompt.parse(ComfyWorkflows.of(none[0], none[1], EMPTY, TEXT)).builtIn(),
                    String.join(" / ", none));
        }
    }

    /** A sampler that starts from an encoded picture is a run from it at its denoise; the PNG has no size for it. */
    @Test
    void aSamplerFromAnEncodedPictureRunsFromItAtItsDenoise() {
        ComfyPrompt c = ComfyPrompt.parse(ComfyWorkflows.of("euler", "normal", ENCODED, TEXT));
        assertEquals(Optional.empty(), c.size());
        assertEquals(0.6, c.denoise());
        assertEquals(1, c.count());
    }

    /** What the workflow lacks or has that cannot be read is named: no sampler, a prompt no text node gives. */
    /**
     * A PerturbedAttentionGuidance node the sampler's model comes through gives its scale (0: none), and is no longer
     * among the nodes not applied; one elsewhere in the workflow is.
     */
    @Test
    void thePerturbedAttentionGuidanceOfTheSamplersModelIsRead() {
        String plain = ComfyWorkflows.of("euler", "normal", EMPTY, TEXT);
        assertEquals(Optional.empty(), ComfyPrompt.parse(plain).perturbedAttention());
        ComfyPrompt guided = ComfyPrompt.parse(ComfyWorkflows.withPerturbedAttention(plain, 2.5));
        assertEquals(Optional.of(2.5), guided.perturbedAttention());
        assertEquals(List.of(), guided.unapplied());
        assertEquals(List.of(new ComfyPrompt.LoraNode("ink.safetensors", 0.8)), guided.loras(), "further up the chain");
        ComfyPrompt off = ComfyPrompt.parse(ComfyWorkflows.withPerturbedAttention(plain, 0));
        assertEquals(Optional.empty(), off.perturbedAttention());
        assertEquals(List.of(), off.unapplied(), "a scale of 0 is ComfyUI's guidance off");
        ComfyPrompt aside = ComfyPrompt.parse(ComfyWorkflows.withPerturbedAttention(plain, 2.5)
                .replace("\"model\": [\"12\", 0],", "\"model\": [\"10\", 0],"));
        assertEquals(Optional.empty(), aside.perturbedAttention());
        assertEquals(List.of("PerturbedAttentionGuidance (node 12)"), aside.unapplied());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ComfyPrompt.parse(ComfyWorkflows
                .withPerturbedAttention(plain, 1).replace("\"scale\": 1.0", "\"scale\": \"x\""))).getMessage()
                .contains("PerturbedAttentionGuidance node's scale is not a number"));
    }

    /**
     * The LoraLoader nodes the sampler's model comes through give their LoRAs, the one nearest the checkpoint first;
     * one with other strengths for the UNet and the text encoders, which Montage's LoRAs do not have, is not applied.
     */
    @Test
    void theLorasOfTheSamplersModelAreRead() {
        String two = ComfyWorkflows.of("euler", "normal", EMPTY, TEXT).replace("\"model\": [\"4\", 0],",
                "\"model\": [\"13\", 0],").replaceFirst("\\}\\s*$", ", \"13\": {\"class_type\": \"LoraLoader\", "
                        + "\"inputs\": {\"lora_name\": \"styles/paper.safetensors\", \"model\": [\"4\", 0], \"clip\": "
                        + "[\"4\", 1], \"strength_model\": 0.5, \"strength_clip\": 0.5}}}");
        assertEquals(List.of(new ComfyPrompt.LoraNode("styles/paper.safetensors", 0.5), new ComfyPrompt.LoraNode(
                "ink.safetensors", 0.8)), ComfyPrompt.parse(two).loras());
        ComfyPrompt uneven = ComfyPrompt.parse(ComfyWorkflows.of("euler", "normal", EMPTY, TEXT).replace(
                "\"strength_clip\": 0.8", "\"strength_clip\": 1.0"));
        assertEquals(List.of(), uneven.loras());
        assertEquals(List.of("LoraLoader (node 10)"), uneven.unapplied());
    }

    /**
     * A KSampler that denoises the first sampler's result enlarged by a latent upscale node is the second pass, its
     * nodes no longer named as not applied; an upscale method Montage does not have, a crop or another latent leaves
     * it a further sampler.
     */
    @Test
    void aTwoPassWorkflowsSecondSamplerIsItsSecondPass() {
        String plain = ComfyWorkflows.of("dpmpp_2m", "karras", EMPTY, TEXT);
        String second = "\"seed\": 43, \"steps\": 10, \"cfg\": 4.0, \"sampler_name\": \"euler\", \"scheduler\": "
                + "\"normal\", \"denoise\": 0.6";
        ComfyPrompt by = ComfyPrompt.parse(ComfyWorkflows.withSecondPass(plain, "LatentUpscaleBy",
                "\"upscale_method\": \"bicubic\", \"scale_by\": 1.5", second));
        assertEquals(Optional.of(new ComfyPrompt.SecondPass(96, 48, "latent-bicubic", 43, 10, 4.0, "euler", "normal",
                0.6, Optional.of("a castle, at dusk"), Optional.of("fog, blur"))), by.secondPass());
        assertEquals(List.of(), by.unapplied());
        ComfyPrompt sized = ComfyPrompt.parse(ComfyWorkflows.withSecondPass(plain, "LatentUpscale",
                "\"upscale_method\": \"nearest-exact\", \"width\": 128, \"height\": 64, \"crop\": \"disabled\"",
                second));
        assertEquals(128, sized.secondPass().orElseThrow().width());
        assertEquals("latent-nearest-exact", sized.secondPass().orElseThrow().upscaler());
        for (String[] none : new String[][] {{"LatentUpscaleBy", "\"upscale_method\": \"bislerp\", \"scale_by\": 2"},
            {"LatentUpscale", "\"upscale_method\": \"bilinear\", \"width\": 128, \"height\": 64, \"crop\": "
                + "\"center\""}, {"VAEEncode", "\"upscale_method\": \"bilinear\""}}) {
            ComfyPrompt other = ComfyPrompt.parse(ComfyWorkflows.withSecondPass(plain, none[0], none[1], second));
            assertEquals(Optional.empty(), other.secondPass(), none[1]);
            assertTrue(other.unapplied().contains("KSampler (node 15), a further sampler"), other.unapplied()
                    .toString());
        }
    }

    @Test
    void whatCannotBeReadIsNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ComfyPrompt.parse("[1, 2]")).getMessage()
                .contains("not a JSON object of nodes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ComfyPrompt.parse("{\"1\": {\"class_type\": "
                + "\"SaveImage\", \"inputs\": {}}}")).getMessage().contains("no KSampler or KSamplerAdvanced node"));
        ComfyPrompt combined = ComfyPrompt.parse(ComfyWorkflows.of("euler", "normal", EMPTY, "{\"class_type\": "
                + "\"ConditioningCombine\", \"inputs\": {}}"));
        assertEquals(Optional.empty(), combined.prompt());
        assertEquals(Map.of("positive", "its ComfyUI sampler's positive prompt comes from a ConditioningCombine node, "
                + "which is not read here"), combined.textProblems());
        ComfyPrompt linked = ComfyPrompt.parse(ComfyWorkflows.of("euler", "normal", EMPTY, "{\"class_type\": "
                + "\"CLIPTextEncode\", \"inputs\": {\"text\": [\"12\", 0]}}"));
        assertTrue(linked.textProblems().get("positive").contains("comes from another node"),
                linked.textProblems().toString());
    }
}
