package dev.montage.api.host;

import java.nio.file.Path;

/**
 * One model component on disk, as diffusers and transformers lay it out: a folder with {@code config.json}
 * and its weights ({@code diffusion_pytorch_model[.fp16].safetensors}, {@code model[.fp16].safetensors},
 * sharded indexes, or {@code .bin} as a fallback).
 */
public interface ModelFolder {

    /** The folder. */
    Path path();

    /** The component's {@code config.json}. */
    ModelConfig config();

    /**
     * Another JSON file of the folder, e.g. {@code scheduler_config.json} or {@code preprocessor_config.json}.
     *
     * @throws IllegalArgumentException naming the file when it is missing or not a JSON object
     */
    ModelConfig json(String fileName);

    /** The component's weights. */
    ModelWeights weights();

    /**
     * A file of the folder (e.g. {@code vocab.json}).
     *
     * @throws IllegalArgumentException naming the folder and the missing file
     */
    Path file(String name);
}
