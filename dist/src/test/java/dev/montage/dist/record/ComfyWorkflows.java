package dev.montage.dist.record;

/** ComfyUI workflows in their API form, as a PNG's {@code prompt} chunk carries them, for tests. */
public final class ComfyWorkflows {
    private ComfyWorkflows() {
    }

    /**
     * A workflow of checkpoint, two prompts, a latent image ({@code latent}: an empty one, or an encoded picture, which
     * the sampler denoises at 0.6), a sampler, a LoRA, decode and save.
     */
    public static String of(String sampler, String scheduler, String latent, String positive) {
        return """
                {"3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 2, "cfg": 5.5,
                  "sampler_name": "%s", "scheduler": "%s", "denoise": %s, "model": ["10", 0],
                  "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
                 "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
                 "5": %s,
                 "6": %s,
                 "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog, blur", "clip": ["4", 1]}},
                 "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
                 "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "ComfyUI"}},
                 "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "ink.safetensors", "model": ["4", 0],
                   "clip": ["4", 1], "strength_model": 0.8, "strength_clip": 0.8}}}
                """.formatted(sampler, scheduler, latent.contains("EmptyLatentImage") ? "1.0" : "0.6", latent,
                positive);
    }

    /**
     * The workflow with a second pass: node 14, an {@code upscale} node with these inputs (an object's members),
     * enlarges the sampler's result, and KSampler node 15 with these inputs denoises it with the first's model and
     * prompts.
     */
    public static String withSecondPass(String workflow, String upscale, String upscaleInputs, String samplerInputs) {
        return workflow.replaceFirst("\\}\\s*$", ", \"14\": {\"class_type\": \"" + upscale + "\", \"inputs\": "
                + "{\"samples\": [\"3\", 0], " + upscaleInputs + "}}, \"15\": {\"class_type\": \"KSampler\", "
                + "\"inputs\": {" + samplerInputs + ", \"model\": [\"10\", 0], \"positive\": [\"6\", 0], "
                + "\"negative\": [\"7\", 0], \"latent_image\": [\"14\", 0]}}}");
    }

    /**
     * The workflow with its sampler's model coming through a {@code PerturbedAttentionGuidance} node (node 12) of this
     * scale, which takes the LoRA's model.
     */
    public static String withPerturbedAttention(String workflow, double scale) {
        return workflow.replace("\"model\": [\"10\", 0],", "\"model\": [\"12\", 0],").replaceFirst("\\}\\s*$",
                ", \"12\": {\"class_type\": \"PerturbedAttentionGuidance\", \"inputs\": {\"model\": [\"10\", 0], "
                        + "\"scale\": " + scale + "}}}");
    }

}
