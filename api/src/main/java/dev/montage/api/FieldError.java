package dev.montage.api;

/**
 * One invalid field of a request.
 *
 * @param field   path of the field as a client wrote it, e.g. {@code subjects[1].box}
 * @param message what is wrong and what was expected
 */
public record FieldError(String field, String message) {
    @Override
    public String toString() {
        return field + ": " + message;
    }
}
