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
 * @param guidanceRescale diffusers' {@code guidance_rescale} of guided requests (those whose guidance is above 1),
 *                       0 for none
 */
public record RequestDefaults(int width, int height, int steps, double guidance, double scale, String scheduler,
        String negativePrompt, int count, double guidanceRescale) {

    /**
     * A request builder holding these defaults. It names no scheduler: a pipeline built from the profile runs
     * {@link #scheduler()} unless the assembly replaced that default (e.g. with a scheduler instance).
     */
    public GenerationRequest.Builder request(String prompt) {
        return GenerationRequest.builder(prompt).size(width, height).steps(steps).guidanceScale(guidance)
                .imageScale(scale).negativePrompt(negativePrompt).numImages(count)
                .guidanceRescale(rescaleFor(guidance));
    }

    /** The guidance rescale a request of guidance scale {@code guidanceScale} gets: the default where it is guided. */
    public double rescaleFor(double guidanceScale) {
        return guidanceScale > 1 ? guidanceRescale : 0;
    }
}
