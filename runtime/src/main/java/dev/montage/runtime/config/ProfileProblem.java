package dev.montage.runtime.config;

/**
 * One problem of a profile.
 *
 * @param source  where the value came from: {@code file:line}, an environment variable, a command-line flag, or the
 *                profile name when the profile itself cannot be found
 * @param key     the dotted key, e.g. {@code engine.device}; empty when the problem is not about one key
 * @param message what is wrong and what was expected
 */
public record ProfileProblem(String source, String key, String message) {

    @Override
    public String toString() {
        return source + ": " + (key.isEmpty() ? "" : key + ": ") + message;
    }
}
