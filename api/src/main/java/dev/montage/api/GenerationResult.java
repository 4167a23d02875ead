package dev.montage.api;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a generation produced.
 *
 * @param images     the images, RGB, {@code request.width() x request.height()}, {@code numImages} of them
 * @param request    the request exactly as run, after profile defaults were applied
 * @param parameters the effective parameters as text (prompt, seed, steps, scheduler, model ids, ...), the
 *                   same map that is embedded in each PNG so a result can be reproduced
 * @param elapsed    wall time of the whole generation
 */
public record GenerationResult(
        List<BufferedImage> images, GenerationRequest request, Map<String, String> parameters, Duration elapsed) {

    public GenerationResult {
        images = List.copyOf(images);
        // keep the pipeline's order: readers of the PNG text chunks see prompt and seed first
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }
}
