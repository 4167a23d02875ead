package dev.montage.runtime.pipeline;

import dev.montage.api.Box;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Subject;
import dev.montage.api.spi.SubjectResampler.SubjectField;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The subject fields a pipeline's adapter reads, and the problems of a request that sets others or lacks a phrase
 * the adapter needs, so that nothing a user sets is silently ignored.
 *
 * @param reads   what the adapter reads ({@link dev.montage.api.spi.SubjectResampler#subjectFields()})
 * @param adapter how messages name the adapter, e.g. {@code subject resampler 'ms-diffusion'}
 */
public record SubjectFields(Set<SubjectField> reads, String adapter) {

    public SubjectFields {
        reads = Set.copyOf(reads);
    }

    /** The problems of one subject, named under {@code path} (e.g. {@code subjects[1]}). */
    public List<FieldError> problems(Subject s, String path) {
        List<FieldError> problems = new ArrayList<>();
        boolean phrases = reads.contains(SubjectField.PHRASE);
        if (phrases && s.phrase() == null) {
            problems.add(new FieldError(path + ".phrase", "is required: " + adapter + " places each subject by the "
                    + "words that name it in the prompt"));
        } else if (!phrases && s.phrase() != null) {
            problems.add(new FieldError(path + ".phrase", adapter + " reads no phrases; leave it out"));
        }
        if (!reads.contains(SubjectField.BOX) && !s.box().equals(Box.NONE)) {
            problems.add(new FieldError(path + ".box", adapter + " reads no boxes; leave it out"));
        }
        if (!reads.contains(SubjectField.DROP_GROUNDING) && s.dropGrounding()) {
            problems.add(new FieldError(path + ".dropGrounding", adapter + " has no grounding to drop"));
        }
        return problems;
    }

    /** The problems of a request's subjects and of its auto layout, which follows their phrases. */
    public List<FieldError> problems(GenerationRequest request) {
        List<FieldError> problems = new ArrayList<>();
        for (int i = 0; i < request.subjects().size(); i++) {
            problems.addAll(problems(request.subjects().get(i), "subjects[" + i + "]"));
        }
        autoLayoutProblem(!request.subjects().isEmpty(), request.autoLayout().isPresent()).ifPresent(problems::add);
        return problems;
    }

    /** Auto layout follows the subjects' phrases, so it needs an adapter that reads them. */
    public Optional<FieldError> autoLayoutProblem(boolean subjects, boolean autoLayout) {
        return subjects && autoLayout && !reads.contains(SubjectField.PHRASE)
                ? Optional.of(new FieldError("autoLayout", "follows the subjects' phrases, which " + adapter
                        + " does not read"))
                : Optional.empty();
    }
}
