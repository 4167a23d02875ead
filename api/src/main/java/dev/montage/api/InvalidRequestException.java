package dev.montage.api;

import java.util.List;
import java.util.stream.Collectors;

/** A request with one or more invalid fields; lists every one of them, not just the first. */
public final class InvalidRequestException extends MontageException {
    private static final long serialVersionUID = 1L;
    private final transient List<FieldError> errors;

    public InvalidRequestException(List<FieldError> errors) {
        super(errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        this.errors = List.copyOf(errors);
    }

    /** Every invalid field, in the order the fields were checked. */
    public List<FieldError> errors() {
        return errors;
    }
}
