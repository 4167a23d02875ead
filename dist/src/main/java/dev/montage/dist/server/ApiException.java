package dev.montage.dist.server;

import dev.montage.api.FieldError;
import java.util.List;
import java.util.Map;

/**
 * An HTTP error answer: its status, the {@code errors} it lists and any headers it needs (e.g.
 * {@code Retry-After}). Thrown by handlers, turned into {@code {errors: [{field, message}]}} in one place.
 */
final class ApiException extends RuntimeException {
    private final int status;
    private final transient List<FieldError> errors;
    private final transient Map<String, String> headers;

    ApiException(int status, List<FieldError> errors, Map<String, String> headers) {
        super(status + " " + errors);
        this.status = status;
        this.errors = List.copyOf(errors);
        this.headers = Map.copyOf(headers);
    }

    /** An error about no field in particular. */
    ApiException(int status, String message) {
        this(status, List.of(new FieldError(null, message)), Map.of());
    }

    static ApiException tooLarge(String field, String message) {
        return new ApiException(413, List.of(new FieldError(field, message)), Map.of());
    }

    static ApiException notFound(String message) {
        return new ApiException(404, message);
    }

    int status() {
        return status;
    }

    List<FieldError> errors() {
        return errors;
    }

    Map<String, String> headers() {
        return headers;
    }
}
