package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import dev.montage.api.SubjectConditioning;
import java.util.Objects;
import java.util.Optional;

/**
 * What the cross-attention layers of one network call attend to, as separate typed values: the text tokens, and the
 * subjects when the generation has any. Nothing is concatenated for the receiver to take apart again; a network that
 * should see text and subject tokens as one sequence is given that sequence as its {@code text}.
 *
 * @param text     [B, S, C] token embeddings
 * @param subjects the subjects' tokens and layout, if any
 */
public record EncoderContext(NDArray text, Optional<SubjectConditioning> subjects) {

    public EncoderContext {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(subjects, "subjects");
    }

    /** A context of text tokens only. */
    public static EncoderContext text(NDArray text) {
        return new EncoderContext(text, Optional.empty());
    }
}
