package dev.montage.runtime.config;

import dev.montage.api.GenerationRequest;

/**
 * Profile section {@code defaults}: the generation parameters a request gets unless it sets them.
 *
 * @param width          output width in pixels, a multiple of 8
 * @param height         output height in pixels, a multiple of 8
 * @param steps          denoising steps
 * @param guidance       classifier-free guidance scale (1 = off)
 * @param scale          image attention scale of the subjects
 * @param scheduler      scheduler id used when a request names none
 * @param negativePrompt the negative prompt
 * @param count          images per request
 */
public record RequestDefaults(int width, int height, int steps, double guidance, double scale, String scheduler,
        String negativePrompt, int count) {

    /**
     * A request builder holding these defaults. It names no scheduler: a pipeline built from the profile runs
     * {@link #scheduler()} unless the assembly replaced that default (e.g. with a scheduler instance).
     */
    public GenerationRequest.Builder request(String prompt) {
        return GenerationRequest.builder(prompt).size(width, height).steps(steps).guidanceScale(guidance)
                .imageScale(scale).negativePrompt(negativePrompt).numImages(count);
    }
}
