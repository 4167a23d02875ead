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
 * @param parameters what made the images besides the request, as text: the scheduler that ran, the compute dtype,
 *                   the component ids, engine, model paths and LoRAs, each control's effective settings
 * @param elapsed    wall time of the whole generation
 */
public record GenerationResult(
        List<BufferedImage> images, GenerationRequest request, Map<String, String> parameters, Duration elapsed) {

    public GenerationResult {
        images = List.copyOf(images);
        // keep the pipeline's order: the scheduler and dtype first, then the description
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }
}
