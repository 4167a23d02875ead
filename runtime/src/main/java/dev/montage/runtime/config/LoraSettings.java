package dev.montage.runtime.config;

import dev.montage.runtime.pipeline.Lora;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One entry of {@code models.loras}: a LoRA and the strength it is applied with to every model it adapts.
 *
 * @param path            the {@code .safetensors} file (required)
 * @param scale           the strength, {@value Lora#DEFAULT_SCALE} when unset
 * @param ignoreUnmatched whether its modules that name no layer of the models are left out rather than refused
 *                        (false when unset)
 */
public record LoraSettings(Optional<Path> path, Optional<Double> scale, Optional<Boolean> ignoreUnmatched) {

    /**
     * The LoRA to apply.
     *
     * @throws IllegalStateException when the path is unset, which the profile's validation reports
     */
    public Lora toLora() {
        return new Lora(path.orElseThrow(() -> new IllegalStateException("a LoRA of models.loras has no path")),
                scale.orElse(Lora.DEFAULT_SCALE), ignoreUnmatched.orElse(false));
    }
}
