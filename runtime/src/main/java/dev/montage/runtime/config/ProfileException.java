package dev.montage.runtime.config;

import dev.montage.api.ConfigurationException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A profile that cannot be used; lists every problem found, not just the first, each with the file (or variable, or
 * call) that set the key.
 */
public final class ProfileException extends ConfigurationException {
    private static final long serialVersionUID = 1L;
    private final transient List<ProfileProblem> problems;

    /**
     * @param profiles the profile layers as given, for the message
     * @param problems at least one
     */
    public ProfileException(List<String> profiles, List<ProfileProblem> problems) {
        super("profile " + (profiles.isEmpty() ? "(built-in defaults only)" : String.join(",", profiles)) + " has "
                + problems.size() + (problems.size() == 1 ? " problem" : " problems") + ":\n  "
                + problems.stream().map(ProfileProblem::toString).collect(Collectors.joining("\n  ")));
        this.problems = List.copyOf(problems);
    }

    /** Every problem, in the order the profile was checked. */
    public List<ProfileProblem> problems() {
        return problems;
    }
}
