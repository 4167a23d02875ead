package dev.montage.dist.record;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The generation a ComfyUI PNG records in its {@code prompt} text chunk (the workflow in ComfyUI's API form: node id
 * to {@code class_type} and {@code inputs}, an input linked to another node written as {@code [node id, output]}):
 * the sampler node ({@code KSampler} or {@code KSamplerAdvanced}) with its seed, steps, cfg, sampler and scheduler,
 * the prompts of the {@code CLIPTextEncode} (or {@code CLIPTextEncodeSDXL}) nodes its positive and negative inputs come
 * from, the size and batch of the empty latent image it starts from, and the scale of a
 * {@code PerturbedAttentionGuidance} node its model comes through (ComfyUI's perturbed-attention guidance: the
 * self-attention of the UNet's middle block, as diffusers' default layers, added to the guided prediction), and the
 * {@code LoraLoader} nodes it comes through with one strength for the UNet and the text encoders; a further
 * {@code KSampler} that denoises its result enlarged by a {@code LatentUpscale} or {@code LatentUpscaleBy} node is the
 * second pass of ComfyUI's two-pass ("hires fix") workflow.
 *
 * @param prompt         the positive prompt, or empty where no text-encoding node gives it (see {@code textProblems})
 * @param negativePrompt the negative prompt, likewise
 * @param seed           the noise seed
 * @param steps          the sampler's steps
 * @param cfg            its guidance scale
 * @param sampler        ComfyUI's {@code sampler_name}, e.g. {@code dpmpp_2m}
 * @param scheduler      ComfyUI's {@code scheduler}, e.g. {@code karras}
 * @param size           width and height of the empty latent image, or empty where the sampler starts from a picture
 * @param count          the batch size of that latent image, 1 otherwise
 * @param denoise        the share of the schedule the sampler runs (a run from a picture where below 1)
 * @param perturbedAttention the scale of the perturbed-attention guidance the sampler's model takes, if it takes one
 * @param loras          the LoRAs the sampler's model comes through, by their file names, in the order they apply
 * @param secondPass     the sampler that denoises the result again at a larger size, if the workflow has one
 * @param unapplied      the nodes and settings of the workflow nothing here corresponds to, in words
 * @param textProblems   why a prompt could not be read, by the sampler's input ({@code positive}, {@code negative})
 */
public record ComfyPrompt(Optional<String> prompt, Optional<String> negativePrompt, long seed, int steps, double cfg,
        String sampler, String scheduler, Optional<int[]> size, int count, double denoise,
        Optional<Double> perturbedAttention, List<LoraNode> loras, Optional<SecondPass> secondPass,
        List<String> unapplied, Map<String, String> textProblems) {
    /** The PNG text chunk ComfyUI writes its API-form workflow to. */
    public static final String CHUNK = "prompt";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SAMPLERS = List.of("KSampler", "KSamplerAdvanced");
    private static final String PERTURBED_ATTENTION = "PerturbedAttentionGuidance";
    private static final String LORA_LOADER = "LoraLoader";

    /**
     * A {@code LoraLoader} node's LoRA.
     *
     * @param file     its {@code lora_name}: the file in ComfyUI's LoRA folder
     * @param strength its strength for the UNet and the text encoders alike
     */
    public record LoraNode(String file, double strength) {
    }
    /**
     * The second pass of a two-pass workflow: a {@code KSampler} whose latent image is the first sampler's result
     * enlarged by a latent upscale node, which denoises the last {@code steps} steps of a schedule of
     * {@code steps / denoise} (ComfyUI's {@code KSampler.set_steps}).
     *
     * @param width          the enlarged width in pixels
     * @param height         the enlarged height
     * @param upscaler       the Montage upscaler that is the node's {@code upscale_method}
     * @param seed           the second sampler's noise seed
     * @param steps          the steps it takes
     * @param cfg            its guidance scale
     * @param sampler        its {@code sampler_name}
     * @param scheduler      its {@code scheduler}
     * @param denoise        its share of the schedule
     * @param prompt         its positive prompt, where a text-encoding node gives one
     * @param negativePrompt its negative prompt, likewise
     */
    public record SecondPass(int width, int height, String upscaler, long seed, int steps, double cfg, String sampler,
            String scheduler, double denoise, Optional<String> prompt, Optional<String> negativePrompt) {
    }

    /** ComfyUI's latent upscale methods that are one of Montage's latent upscalers (the same PyTorch modes). */
    private static final Map<String, String> UPSCALE_METHODS = Map.of("bilinear", "latent", "nearest-exact",
            "latent-nearest-exact", "bicubic", "latent-bicubic");

    /** ComfyUI's nodes that only load or save, whose settings the profile and the command answer for. */
    private static final List<String> PLUMBING = List.of("CheckpointLoaderSimple", "VAEDecode", "SaveImage",
            "PreviewImage", "EmptyLatentImage", "CLIPTextEncode", "CLIPTextEncodeSDXL");

    /**
     * The generation of a {@code prompt} chunk.
     *
     * @throws IllegalArgumentException naming what the workflow lacks or has that cannot be read: no sampler node, a
     *     malformed value
     */
    public static ComfyPrompt parse(String text) {
        JsonNode graph;
        try {
            graph = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("its ComfyUI prompt chunk is not JSON: " + e.getOriginalMessage(), e);
        }
        if (graph == null || !graph.isObject()) {
            throw new IllegalArgumentException("its ComfyUI prompt chunk is not a JSON object of nodes");
        }
        List<String> samplers = new ArrayList<>();
        List<String> unapplied = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = graph.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String type = e.getValue().path("class_type").asText("");
            if (SAMPLERS.contains(type)) {
                samplers.add(e.getKey());
            } else if (!PLUMBING.contains(type)) {
                unapplied.add(type + " (node " + e.getKey() + ")");
            }
        }
        if (samplers.isEmpty()) {
            throw new IllegalArgumentException("its ComfyUI workflow has no KSampler or KSamplerAdvanced node");
        }
        // the sampler that starts from an empty latent image is the generation; others refine its result
        String chosen = samplers.stream().filter(id -> emptyLatent(graph, graph.get(id)).isPresent()).findFirst()
                .orElse(samplers.get(0));
        JsonNode inputs = graph.get(chosen).path("inputs");
        Optional<JsonNode> latent = emptyLatent(graph, graph.get(chosen));
        Optional<int[]> size = latent.map(l -> new int[] {integer(l, "width"), integer(l, "height")});
        Optional<SecondPass> secondPass = Optional.empty();
        for (String id : samplers) {
            if (id.equals(chosen)) {
                continue;
            }
            Optional<SecondPass> pass = secondPass.isPresent() ? Optional.empty()
                    : secondPass(graph, chosen, id, size, unapplied);
            if (pass.isPresent()) {
                secondPass = pass;
            } else {
                unapplied.add(graph.get(id).path("class_type").asText() + " (node " + id + "), a further sampler");
            }
        }
        boolean advanced = graph.get(chosen).path("class_type").asText().equals("KSamplerAdvanced");
        if (advanced && (inputs.path("start_at_step").asInt(0) != 0
                || inputs.path("end_at_step").asInt(10000) < inputs.path("steps").asInt())) {
            unapplied.add("start_at_step " + inputs.path("start_at_step").asText() + ", end_at_step "
                    + inputs.path("end_at_step").asText() + " of node " + chosen);
        }
        int count = latent.map(l -> l.path("inputs").has("batch_size") ? integer(l, "batch_size") : 1).orElse(1);
        Map<String, String> textProblems = new LinkedHashMap<>();
        Optional<String> positive = text(graph, inputs, "positive", textProblems);
        Optional<String> negative = text(graph, inputs, "negative", textProblems);
        List<String> chain = modelChain(graph, inputs);
        Optional<String> guidanceNode = chain.stream().filter(id -> type(graph, id).equals(PERTURBED_ATTENTION))
                .findFirst();
        Optional<Double> perturbedAttention = guidanceNode.map(id -> {
            unapplied.remove(PERTURBED_ATTENTION + " (node " + id + ")");
            JsonNode scale = graph.get(id).path("inputs").get("scale");
            if (scale == null || !scale.isNumber()) {
                throw new IllegalArgumentException("its ComfyUI " + PERTURBED_ATTENTION + " node's scale is not a "
                        + "number in the workflow");
            }
            return scale.doubleValue();
        }).filter(scale -> scale > 0);
        List<LoraNode> loras = new ArrayList<>();
        // the node nearest the checkpoint applies first
        for (int i = chain.size() - 1; i >= 0; i--) {
            String id = chain.get(i);
            JsonNode lora = graph.get(id).path("inputs");
            if (type(graph, id).equals(LORA_LOADER) && lora.path("lora_name").isTextual()
                    && lora.path("strength_model").isNumber()
                    && lora.path("strength_model").asDouble() == lora.path("strength_clip").asDouble(Double.NaN)) {
                loras.add(new LoraNode(lora.get("lora_name").asText(), lora.get("strength_model").asDouble()));
                unapplied.remove(LORA_LOADER + " (node " + id + ")");
            }
        }
        return new ComfyPrompt(positive, negative, number(inputs, advanced ? "noise_seed" : "seed").longValue(),
                number(inputs, "steps").intValue(), number(inputs, "cfg").doubleValue(), string(inputs,
                        "sampler_name"), string(inputs, "scheduler"), size, count,
                advanced ? 1 : inputs.path("denoise").asDouble(1), perturbedAttention, List.copyOf(loras),
                secondPass, List.copyOf(unapplied),
                Map.copyOf(textProblems));
    }

    /**
     * Sampler {@code id} as the second pass of sampler {@code first}, where it is a {@code KSampler} whose latent image
     * is {@code first}'s result enlarged by a {@code LatentUpscale} (a size, no crop) or {@code LatentUpscaleBy} (a
     * factor of {@code first}'s size) node with an upscale method Montage has; the upscale node is then taken out of
     * {@code unapplied}.
     */
    private static Optional<SecondPass> secondPass(JsonNode graph, String first, String id, Optional<int[]> firstSize,
            List<String> unapplied) {
        JsonNode inputs = graph.get(id).path("inputs");
        JsonNode link = inputs.get("latent_image");
        Optional<JsonNode> upscale = linked(graph, link);
        if (!type(graph, id).equals("KSampler") || upscale.isEmpty()) {
            return Optional.empty();
        }
        JsonNode u = upscale.get().path("inputs");
        JsonNode samples = u.get("samples");
        String method = UPSCALE_METHODS.get(u.path("upscale_method").asText());
        double denoise = inputs.path("denoise").asDouble(1);
        if (samples == null || !samples.isArray() || samples.size() != 2 || !samples.get(0).asText().equals(first)
                || method == null
                || !(denoise > 0 && denoise <= 1)) {
            return Optional.empty();
        }
        int width;
        int height;
        switch (upscale.get().path("class_type").asText()) {
            case "LatentUpscale" -> {
                width = u.path("width").asInt(0);
                height = u.path("height").asInt(0);
                if (width <= 0 || height <= 0 || !u.path("crop").asText("disabled").equals("disabled")) {
                    return Optional.empty();
                }
            }
            case "LatentUpscaleBy" -> {
                if (firstSize.isEmpty() || !u.path("scale_by").isNumber()) {
                    return Optional.empty();
                }
                // ComfyUI rounds the latent grid's size
                double by = u.get("scale_by").asDouble();
                width = (int) Math.round(firstSize.get()[0] / 8.0 * by) * 8;
                height = (int) Math.round(firstSize.get()[1] / 8.0 * by) * 8;
            }
            default -> {
                return Optional.empty();
            }
        }
        unapplied.remove(upscale.get().path("class_type").asText() + " (node " + link.get(0).asText() + ")");
        Map<String, String> problems = new LinkedHashMap<>();
        return Optional.of(new SecondPass(width, height, method, number(inputs, "seed").longValue(),
                number(inputs, "steps").intValue(), number(inputs, "cfg").doubleValue(), string(inputs,
                        "sampler_name"), string(inputs, "scheduler"), denoise, text(graph, inputs, "positive",
                                problems), text(graph, inputs, "negative", problems)));
    }

    /** The ids of the nodes up the chain of {@code model} inputs from a sampler's, nearest first. */
    private static List<String> modelChain(JsonNode graph, JsonNode inputs) {
        List<String> chain = new ArrayList<>();
        JsonNode link = inputs.get("model");
        // a chain visits each node at most once; a longer one loops
        for (int hops = 0; hops < graph.size(); hops++) {
            Optional<JsonNode> node = linked(graph, link);
            if (node.isEmpty()) {
                break;
            }
            chain.add(link.get(0).asText());
            link = node.get().path("inputs").get("model");
        }
        return chain;
    }

    private static String type(JsonNode graph, String id) {
        return graph.get(id).path("class_type").asText();
    }

    /** The empty latent image node a sampler's {@code latent_image} comes from, if it comes from one. */
    private static Optional<JsonNode> emptyLatent(JsonNode graph, JsonNode sampler) {
        return linked(graph, sampler.path("inputs").get("latent_image"))
                .filter(n -> n.path("class_type").asText().startsWith("Empty") && n.path("inputs").has("width"));
    }

    /** The node an input links to, if it is a link. */
    private static Optional<JsonNode> linked(JsonNode graph, JsonNode input) {
        if (input == null || !input.isArray() || input.size() != 2) {
            return Optional.empty();
        }
        return Optional.ofNullable(graph.get(input.get(0).asText()));
    }

    /**
     * The text of the encoding node a sampler's conditioning input comes from; where there is none, empty, and why in
     * {@code problems}.
     */
    private static Optional<String> text(JsonNode graph, JsonNode inputs, String input, Map<String, String> problems) {
        Optional<JsonNode> node = linked(graph, inputs.get(input));
        if (node.isEmpty()) {
            problems.put(input, "its ComfyUI sampler's " + input + " input is no link to a node");
            return Optional.empty();
        }
        String type = node.get().path("class_type").asText();
        String key = switch (type) {
            case "CLIPTextEncode" -> "text";
            case "CLIPTextEncodeSDXL" -> "text_g";
            default -> null;
        };
        JsonNode text = key == null ? null : node.get().path("inputs").get(key);
        if (text == null || !text.isTextual()) {
            problems.put(input, key == null ? "its ComfyUI sampler's " + input + " prompt comes from a " + type
                    + " node, which is not read here" : "its ComfyUI " + type + " node's " + key + " is not written in "
                            + "the workflow (it comes from another node)");
            return Optional.empty();
        }
        return Optional.of(text.asText());
    }

    private static Number number(JsonNode inputs, String key) {
        JsonNode v = inputs.get(key);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException("its ComfyUI sampler's " + key + " is not a number in the workflow");
        }
        return v.numberValue();
    }

    private static String string(JsonNode inputs, String key) {
        JsonNode v = inputs.get(key);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("its ComfyUI sampler's " + key + " is not a name in the workflow");
        }
        return v.asText();
    }

    private static int integer(JsonNode node, String key) {
        JsonNode v = node.path("inputs").get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new IllegalArgumentException("its ComfyUI " + node.path("class_type").asText() + " node's " + key
                    + " is not an integer in the workflow");
        }
        return v.asInt();
    }

    /**
     * The built-in scheduler and settings that are this workflow's sampler and scheduler, or empty where none is:
     * ComfyUI's {@code normal} schedule is diffusers' {@code linspace} spacing of the training timesteps,
     * {@code karras}, {@code exponential} and {@code kl_optimal} its Karras, exponential and KL-optimal levels between
     * the model's own highest and lowest σ, which the same spacing's ends are; {@code simple} and {@code sgm_uniform}
     * step down from the last training timestep in equal strides, as diffusers' {@code trailing} spacing, and
     * {@code ddim_uniform} takes every (1000 / steps)-th timestep from 1 up, as its {@code leading} spacing with
     * {@code steps_offset} 1 (diffusers rounds a fractional stride where ComfyUI truncates it or interpolates σ between
     * timesteps, so some step counts land a timestep apart). LCM takes its own timesteps with the schedules that space
     * them evenly.
     */
    public Optional<Map.Entry<String, Map<String, String>>> builtIn() {
        return builtIn(sampler, scheduler);
    }

    /** The built-in scheduler and settings of a sampler and scheduler as ComfyUI names them ({@link #builtIn()}). */
    public static Optional<Map.Entry<String, Map<String, String>>> builtIn(String sampler, String scheduler) {
        String base = sampler.endsWith("_gpu") ? sampler.substring(0, sampler.length() - 4) : sampler;
        Map<String, String> settings = new LinkedHashMap<>();
        String id = switch (base) {
            // ComfyUI's ddim is its Euler sampler (the same first-order solver of the probability-flow ODE)
            case "euler", "ddim" -> "euler";
            case "euler_ancestral" -> "euler-ancestral";
            case "heun" -> "heun";
            case "dpm_2" -> "dpm2";
            case "dpm_2_ancestral" -> "dpm2-ancestral";
            case "lms" -> "lms";
            case "dpmpp_2s_ancestral" -> "dpmpp-2s-ancestral";
            case "dpmpp_sde" -> "dpmpp-sde";
            case "dpmpp_2m" -> "dpmpp-2m";
            case "dpmpp_2m_sde" -> "dpmpp-2m-sde";
            case "dpmpp_2m_sde_heun" -> {
                settings.put("solver_type", "heun");
                yield "dpmpp-2m-sde";
            }
            case "dpmpp_3m_sde" -> "dpmpp-3m-sde";
            // ComfyUI's uni_pc is UniPC's B(h) = h variant, its uni_pc_bh2 the default one
            case "uni_pc" -> {
                settings.put("solver_type", "bh1");
                yield "unipc";
            }
            case "uni_pc_bh2" -> "unipc";
            case "lcm" -> "lcm";
            default -> null;
        };
        if (id == null) {
            return Optional.empty();
        }
        if (id.equals("lcm")) {
            return Set.of("normal", "simple", "sgm_uniform").contains(scheduler) ? Optional.of(Map.entry(id, Map.of()))
                    : Optional.empty();
        }
        settings.put("timestep_spacing", "linspace");
        switch (scheduler) {
            case "normal" -> {
            }
            case "simple", "sgm_uniform" -> settings.put("timestep_spacing", "trailing");
            case "ddim_uniform" -> {
                settings.put("timestep_spacing", "leading");
                settings.put("steps_offset", "1");
            }
            case "karras" -> {
                String karras = id + "-karras";
                if (!Samplers.of(karras).name().equals(Samplers.of(id).name())) {
                    return Optional.empty();
                }
                id = karras;
            }
            case "exponential", "kl_optimal" -> {
                if (!Samplers.LEVEL_SCHEDULERS.contains(id)) {
                    return Optional.empty();
                }
                settings.put(scheduler.equals("exponential") ? "use_exponential_sigmas" : "use_kl_optimal_sigmas",
                        "true");
            }
            default -> {
                return Optional.empty();
            }
        }
        return Optional.of(Map.entry(id, Map.copyOf(settings)));
    }
}
