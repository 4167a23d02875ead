package dev.montage.plugins.clip;

import dev.montage.api.spi.OptionSpec;

/** What a prompt's emphasis syntax does ({@code options.text_encoder.prompt_weighting}). */
enum PromptWeighting {
    /** Nothing: brackets and weights are text, as diffusers and MS-Diffusion read a prompt. */
    NONE,
    /** AUTOMATIC1111's emphasis: {@code (word)}, {@code [word]} and {@code (word:1.3)} weigh the tokens. */
    A1111;

    /** The text encoder's option. */
    static final OptionSpec<PromptWeighting> OPTION = OptionSpec.choice("prompt_weighting", PromptWeighting.class,
            "what brackets in a prompt do: none (they are text, as diffusers reads a prompt) or a1111 (A1111's "
                    + "emphasis: (word) x1.1, [word] /1.1, (word:1.3) x1.3; BREAK, prompt editing, AND and "
                    + "<lora:...> tags are refused)").withDefault(NONE);
}
